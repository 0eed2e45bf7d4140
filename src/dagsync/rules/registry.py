"""The one table of rules: which rules exist and which CGV article backs each.

IDs are stable and never reused: a retired rule keeps its ID out of this table for good.
`dagsync.rules.structural` lists the loader's and the repository pass's IDs (YAML, SCH, REP).
"""

from __future__ import annotations

from dagsync.rules import (
    access_accounts,
    access_root,
    advice,
    appstack,
    backup_schedule,
    backup_storage,
    contract_grounds,
    contract_payment,
    contract_prices,
    contract_term,
    contract_termination,
    edge,
    mail,
    repository,
    security_firewall,
    security_protections,
    supervision,
    supply,
)
from dagsync.rules.base import Rule

RULES: tuple[Rule, ...] = (
    # Contract, Art. 4, 5, 7, 8, 9 and 10
    contract_term.initial_term,  # CTR001
    contract_term.tacit_renewal,  # CTR002
    contract_term.renewal_duration,  # CTR003
    contract_payment.payment_method,  # CTR004
    contract_payment.payment_in_advance,  # CTR005
    contract_termination.termination_channel,  # CTR006
    contract_termination.termination_notice,  # CTR007
    contract_termination.termination_earliest,  # CTR008
    contract_prices.price_increase_notice,  # CTR009
    contract_prices.price_guaranteed,  # CTR010
    contract_payment.unpaid_renewal_date,  # CTR011
    contract_term.signed_before_start,  # CTR012
    contract_payment.billing_contact,  # CTR013
    contract_prices.termination_price_increase,  # CTR014
    contract_grounds.termination_service_change,  # CTR015
    contract_grounds.termination_force_majeure,  # CTR016
    contract_grounds.termination_breach,  # CTR017
    # Supply, Art. 4
    supply.server_type,  # SUP001
    supply.tls_issuer,  # SUP002
    supply.ovh_datacenter,  # SUP003
    # Application stack, Art. 4
    appstack.os_upgrade_requested,  # APP001
    appstack.prerequisites_own,  # APP002
    appstack.vhost_names_once,  # APP003
    appstack.document_root_not_dev_space,  # APP004
    appstack.db_user_sources,  # APP005
    # Access, Art. 6
    access_root.root_window,  # ACC001
    access_root.root_window_server,  # ACC002
    access_root.root_window_suspends,  # ACC003
    access_accounts.no_secrets,  # ACC004
    access_accounts.root_reserved,  # ACC005
    access_root.root_window_keys,  # ACC006
    access_accounts.reserved_account_name,  # ACC007
    access_accounts.dag_key_reused,  # ACC008
    # Security, Art. 4
    security_firewall.port_justification,  # SEC001
    security_firewall.public_ports,  # SEC002
    security_firewall.blocklist_spares_management,  # SEC003
    security_firewall.ssh_port_free,  # SEC004
    security_protections.protections_on,  # SEC005
    security_protections.blocklist_propagation,  # SEC006
    security_protections.blocklist_bounded,  # SEC007
    security_protections.reverse_dns_own_ip,  # SEC008
    # Edge firewall, Art. 4
    edge.edge_rules_fit,  # EDG001
    # Supervision, Art. 4
    supervision.metrics_watched,  # MON001
    supervision.alert_interval,  # MON002
    supervision.uptime_interval,  # MON003
    supervision.monitoring_keeps_the_intervals,  # MON004
    supervision.uptime_urls_are_the_clients,  # MON005
    supervision.maintenance_names_the_clients_servers,  # MON006
    # Backups, Art. 4 (and 6.1 for the dev space)
    backup_schedule.backup_daily,  # BKP001
    backup_schedule.backup_window,  # BKP002
    backup_schedule.backup_retention,  # BKP003
    backup_schedule.backup_scope,  # BKP004
    backup_schedule.dev_space_not_backed_up,  # BKP005
    backup_storage.backup_storage_known,  # BKP006
    backup_storage.backup_storage_country,  # BKP007
    backup_storage.backup_storage_elsewhere,  # BKP008
    backup_storage.backup_storage_site,  # BKP009
    # Shared mail, Art. 6.1
    mail.mail_domain_hosted,  # MAIL001
    mail.mail_quota_billable,  # MAIL002
    mail.mail_quota_limit,  # MAIL003
    mail.mail_no_mass_mailing,  # MAIL004
    mail.mail_cc_limit,  # MAIL005
    mail.mail_no_smtp_from_sites,  # MAIL006
    mail.mail_external_forward,  # MAIL007
    mail.mail_domain_claimable,  # MAIL008
    # Advice, Art. 6.1 (warnings)
    advice.production_apart,  # ADV001
    advice.one_dev_space,  # ADV002
    advice.dev_space_location,  # ADV003
    advice.dev_space_size,  # ADV004
    # Repository: requests behind derogations
    repository.request_exists,  # REQ001
    repository.request_current,  # REQ002
    repository.request_cited,  # REQ003
    repository.request_unique,  # REQ004
)

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
