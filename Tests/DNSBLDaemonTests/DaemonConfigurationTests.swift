import DNSBL
import DNSBLDaemon
import DNSBLServer
import Testing
import TestSupport
import ZoneSource

/// The daemon's one validated configuration, built without the command line.
struct DaemonConfigurationTests {
    static func options(_ change: (inout DaemonOptions) -> Void = { _ in }) -> DaemonOptions {
        var o = DaemonOptions()
        o.specs = ["bl.example:ip4set:v4.txt"]
        change(&o)
        return o
    }

    /// The message a configuration is refused with, "" when it is accepted.
    static func refusal(_ change: (inout DaemonOptions) -> Void) -> String {
        do {
            _ = try DaemonConfiguration(options(change))
            return ""
        } catch let invalid as InvalidConfiguration {
            return invalid.message
        } catch {
            return "other: \(error)"
        }
    }

    @Test func defaultsAreValidAndParsedOnce() throws {
        let c = try DaemonConfiguration(Self.options())
        #expect(c.defaultListen)
        #expect(c.listen.map(\.description) == ["127.0.0.1:5300", "[::1]:5300"])
        #expect(c.data.specs == [ZoneSpec(zone: "bl.example", type: "ip4set", files: ["v4.txt"])])
        #expect(c.data.files == ["v4.txt"])
        #expect(c.data.compile.defaultTTL == 2100)
        #expect(c.data.ttl.isEmpty)
        #expect(c.answer.udpPayloadSize == 1232)
        #expect(c.answer.version == Array("prefixbl".utf8))
        #expect(c.transferACL == nil && c.keyring.isEmpty && c.cookieSecret == nil && c.metricsAddress == nil)
        #expect(c.logLevel == .info)
    }

    @Test func flagsReachTheirConsumers() throws {
        let c = try DaemonConfiguration(Self.options { o in
            o.listen = ["127.0.0.1:0"]; o.stores = ["a.pfxbl"]; o.minTTL = 60; o.maxTTL = 3600; o.defaultTTL = 30
            o.allowHostBits = true; o.forceCompile = true; o.noVersion = true; o.noIdServer = true
            o.cookieSecret = "000102030405060708090a0b0c0d0e0f"; o.rrlRate = 5; o.udpBatchWait = 0
            o.allowTransfer = ["192.0.2.0/24"]; o.nat64 = ["bl.example"]; o.logLevel = "debug"
        })
        #expect(!c.defaultListen && c.listen.map(\.description) == ["127.0.0.1:0"])
        #expect(c.data.files == ["a.pfxbl", "v4.txt"])
        #expect(c.data.ttl == TTLBounds(min: 60, max: 3600))
        #expect(c.data.compile.defaultTTL == 30 && c.data.compile.allowHostBits && c.data.compile.force)
        #expect(c.answer.version == nil && c.answer.identity == nil)
        #expect(c.answer.transitions["bl.example"]?.map(\.description) == ["nat64 64:ff9b::/96"])
        #expect(c.answer.udpIXFR?(ClientAddress(ipv4: 0xC000_0201)) == true)
        #expect(c.answer.udpIXFR?(ClientAddress(ipv4: 0xC633_6401)) == false)
        #expect(c.cookieSecret == Array(0..<16))
        #expect(c.logLevel == .debug)
        let server = c.server(addresses: c.listen, inherited: [])
        #expect(server.operations.rrl?.rate == 5)
        #expect(server.udpBatchWait == 0)
        #expect(server.operations.cookieSecret == Array(0..<16))
    }

    @Test func badSettingsAreRefusedNamingTheFlag() {
        #expect(Self.refusal { $0.specs = [] } == "nothing to serve: give --store FILE and/or ZONE:TYPE:FILE specs")
        #expect(Self.refusal { $0.udpPayload = 511 } == "--udp-payload must be 512...4096")
        #expect(Self.refusal { $0.tcpIdleTimeout = 1e300 } == "--tcp-idle-timeout must be at most 31536000 seconds (a year)")
        #expect(Self.refusal { $0.statsInterval = .infinity } == "--stats-interval must be at most 31536000 seconds (a year)")
        #expect(Self.refusal { $0.maxTTL = 2_147_483_648 }.hasPrefix("--max-ttl 2147483648 is above 2147483647"))
        #expect(Self.refusal { $0.minTTL = 600; $0.maxTTL = 60 } == "--min-ttl is above --max-ttl")
        #expect(Self.refusal { $0.minTTL = 600; $0.maxTTL = 0 } == "")
        #expect(Self.refusal { $0.cookieSecret = "abc" } == "--cookie-secret must be 32 hex digits (16 bytes)")
        #expect(Self.refusal { $0.maxAgeAction = "drop" } == "--max-age-action is warn or refuse")
        #expect(Self.refusal { $0.logLevel = "loud" } == "unknown --log-level 'loud'")
        #expect(Self.refusal { $0.specs = ["bl.example:ip4set"] }.hasPrefix("invalid dataset spec 'bl.example:ip4set'"))
        #expect(Self.refusal { $0.listen = ["192.0.2.1:99999"] } != "")
        #expect(Self.refusal { $0.nat64 = ["bl.example=2001:db8::/36"] }.hasPrefix("--nat64 bl.example=2001:db8::/36: NAT64 prefix length /36"))
        #expect(Self.refusal { $0.allowTransfer = ["192.0.2.0/24 xfr.example"] }
                == "--allow-transfer names TSIG key xfr.example, which no --tsig-key or --tsig-keyfile defines")
        #expect(Self.refusal { $0.notify = ["192.0.2.1:53 xfr.example"] }
                == "--notify 192.0.2.1:53 xfr.example names TSIG key xfr.example, which no --tsig-key or --tsig-keyfile defines")
        #expect(Self.refusal {
            $0.tsigKeys = ["xfr.example:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="]
            $0.allowTransfer = ["192.0.2.0/24 xfr.example"]
        } == "")
    }
}
