"""The environment's DNS zone (Route 53, Cloud DNS or Azure DNS) and its records."""

from .acme import AcmeClient, AcmeDns01, acme_dns01_problems
from .args import DNS_PROVIDERS, DnsOptions, DnsProvider, DnsZoneArgs, RecordType, dns_problems, name_in_zone
from .zone import DnsZone

__all__ = ["AcmeClient", "AcmeDns01", "DNS_PROVIDERS", "DnsOptions", "DnsProvider", "DnsZone", "DnsZoneArgs",
           "RecordType", "acme_dns01_problems", "dns_problems", "name_in_zone"]
