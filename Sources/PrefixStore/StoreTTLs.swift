extension Store {
    /// This store with every answer TTL passed through `transform` (seconds in, seconds out):
    /// the SOA TTL, the NS TTL and each dataset's TTL. The file is not touched and nothing is
    /// copied but the zone metadata: the result shares this store's mapping. For TTL bounds
    /// set at serving time (rbldnsd's `-t :MINTTL:MAXTTL`).
    public func mappingTTLs(_ transform: (UInt32) -> UInt32) -> Store {
        let zones = self.zones.map { z in
            var soa = z.soa
            soa.ttl = transform(soa.ttl)
            let datasets = z.datasets.map { d in
                StoreDataset(name: d.name, type: d.type, rule: d.rule, family: d.family, ttl: transform(d.ttl), table: d.table,
                             values: d.values, created: d.created, expires: d.expires, entryCount: d.entryCount,
                             subzone: d.subzone, skippedLines: d.skippedLines, domains: d.domains)
            }
            return StoreZone(name: z.name, soa: soa, nsTTL: transform(z.nsTTL), ns: z.ns, datasets: datasets,
                             records: z.records)
        }
        return Store(memory: memory, zones: zones)
    }
}

extension Store {
    /// This store with the SOA serial of zone `name` (uncompressed wire form, any case) set to
    /// `serial`; nothing else changes and the mapping is shared (as ``mappingTTLs(_:)``).
    /// For a new version of a signed zone without a data change (signatures re-made, key
    /// timing), whose secondaries compare serials (RFC 1982).
    public func settingSerial(_ serial: UInt32, zone name: [UInt8]) -> Store {
        let lower = name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        guard zones.contains(where: { $0.name == lower }) else { return self }
        let zones = self.zones.map { z -> StoreZone in
            guard z.name == lower else { return z }
            var soa = z.soa
            soa.serial = serial
            return StoreZone(name: z.name, soa: soa, nsTTL: z.nsTTL, ns: z.ns, datasets: z.datasets, records: z.records)
        }
        return Store(memory: memory, zones: zones)
    }
}
