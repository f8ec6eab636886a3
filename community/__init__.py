"""People and partners: users and roles, agencies, businesses, sites, agreements, the audit trail."""
