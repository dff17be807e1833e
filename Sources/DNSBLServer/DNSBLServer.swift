import DNSBL
public enum DNSBLServer {}
