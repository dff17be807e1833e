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
