"""The readers, one module per family of exports; each takes one :class:`..context.ReadContext`
and returns a :class:`..evidence.Population`, and :mod:`..registry` maps export kinds to them.

- :mod:`.hr`: the Workday worker report (``identities``);
- :mod:`.identity`: Okta users and application assignments, Entra ID and Google Workspace users;
- :mod:`.events`: the Okta System Log (``events``);
- :mod:`.cloud`: the AWS IAM credential report and group memberships;
- :mod:`.applications`: the ERP user x role listing and the GitHub organisation members;
- :mod:`.reviews`: certification campaign decisions and status;
- :mod:`.tickets`: ServiceNow access requests;
- :mod:`.policy`: SoD rules, approved privileged access, the SoD mitigation register;
- :mod:`.mapped`: any other export through a column mapping declared in the period's YAML.
"""
