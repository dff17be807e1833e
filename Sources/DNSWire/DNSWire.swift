/// RFC 1035 / RFC 6891 wire reading and writing over caller-owned byte buffers. No I/O.
public enum DNSWire {}
