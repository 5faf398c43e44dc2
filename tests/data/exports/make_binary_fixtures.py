"""Write the binary fixtures (.xlsx, .parquet) of tests/data/exports from the data below.

Run from this folder with the project's Python: ``python make_binary_fixtures.py``. The files
are committed; this script documents exactly what they hold and regenerates them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq

HERE = Path(__file__).parent


def salesforce_users_xlsx() -> None:
    """A Salesforce-like user export saved as .xlsx: a README sheet first, then 'Users' with a
    report title and a blank row above the header, a formula cell, an employee number stored as
    text (004217) and one stored as a number formatted 000000, boolean and date cells, a blank
    row between records and formatted empty rows at the end."""
    book = openpyxl.Workbook()
    readme = book.active
    readme.title = "README"
    readme["A1"] = "Exported from Salesforce Setup > Users on 2026-10-01"
    sheet = book.create_sheet("Users")
    sheet.append(["Salesforce user export"])
    sheet.append([])
    sheet.append(["User ID", "Username", "Email", "Full Name", "Active", "Profile", "Last Login",
                  "Created Date", "Employee Number"])
    sheet.append(["0055e000001AbCdAAK", "Jane.Doe@harborlane.example.prod",
                  "Jane.Doe@HarborLane.example", "Jane Doe", True, "Standard User",
                  dt.datetime(2026, 9, 29, 14, 3, 11), dt.datetime(2021, 6, 15, 9, 0), "004217"])
    sheet.append(["0055e000001AbCeAAK", "marco.ruiz@harborlane.example.prod",
                  "marco.ruiz@harborlane.example", '=CONCAT("Marco"," ","Ruiz")', False,
                  "System Administrator", None, dt.datetime(2022, 1, 11, 9, 0), 4218])
    sheet["I5"].number_format = "000000"
    sheet.append([])
    sheet.append(["0055e000001AbCfAAK", "integration@harborlane.example.prod", "",
                  "Integration User", True, "API Only", dt.datetime(2026, 9, 30, 23, 0),
                  dt.datetime(2020, 2, 1), None])
    for row in range(8, 12):  # formatting without values, as Excel leaves behind
        sheet.cell(row=row, column=1).number_format = "@"
    book.save(HERE / "mapped" / "salesforce_users.xlsx")

    wide = openpyxl.Workbook()
    sheet = wide.active
    sheet.title = "Users"
    sheet.append(["User ID", "Username", "Active"])
    sheet.append(["0055e000001AbCdAAK", "jane.doe@harborlane.example.prod", True])
    sheet.append(["0055e000001AbCeAAK", "marco.ruiz@harborlane.example.prod", False, "stray"])
    wide.save(HERE / "robustness" / "apps" / "salesforce_value_beyond_header.xlsx")


def netsuite_roles_parquet() -> None:
    """An ERP role listing from a data warehouse as Parquet: typed columns (naive local
    timestamps, a boolean, an integer) and one row repeated exactly."""
    rows = [
        ("JDOE", "Jane.Doe@HarborLane.example", "A/P Clerk", dt.datetime(2021, 6, 15, 9, 0),
         None, False, "Enabled", 4217),
        ("PNAIR", "priya.nair@harborlane.example", "Administrator",
         dt.datetime(2020, 9, 2, 8, 0), None, True, "Disabled", 4219),
        ("PNAIR", "priya.nair@harborlane.example", "Read Only", dt.datetime(2020, 9, 2, 8, 0),
         dt.datetime(2026, 8, 1, 0, 0), False, "Disabled", 4219),
        ("JDOE", "Jane.Doe@HarborLane.example", "A/P Clerk", dt.datetime(2021, 6, 15, 9, 0),
         None, False, "Enabled", 4217),
    ]
    names = ["Login", "Email", "Role", "Assigned", "Removed", "Administrator", "Status",
             "Employee No"]
    columns = list(zip(*rows))
    types = [pa.string(), pa.string(), pa.string(), pa.timestamp("us"), pa.timestamp("us"),
             pa.bool_(), pa.string(), pa.int64()]
    table = pa.table([pa.array(c, t) for c, t in zip(columns, types)], names=names)
    pq.write_table(table, HERE / "mapped" / "netsuite_roles.parquet")


def erp_listing_parquet() -> None:
    """The ERP listing of apps/ledgerline_erp_user_roles.csv as Parquet, every column text."""
    source = HERE / "apps" / "ledgerline_erp_user_roles.csv"
    header = source.read_text(encoding="utf-8").splitlines()[0].split(",")
    table = pv.read_csv(source, convert_options=pv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False))
    pq.write_table(table, HERE / "apps" / "ledgerline_erp_user_roles.parquet")


if __name__ == "__main__":
    salesforce_users_xlsx()
    netsuite_roles_parquet()
    erp_listing_parquet()
