// SocketCorpus: bad flags of serve, join, certs and run --processes; plaintext is refused without --insecure.
extension CorpusCase {
    static var sockets: [CorpusCase] {
        let smoke = "$CONFIG/smoke.json"
        return [
            command(["serve", smoke, "--listen", "127.0.0.1:0"], mentions: ["--tls DIR", "--insecure for plaintext"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "0..4"], mentions: ["--tls DIR", "--insecure"]),
            command(["serve", smoke, "--listen", "127.0.0.1:0", "--tls", "/nonexistent-fednoise"],
                    mentions: ["--tls", "/nonexistent-fednoise/ca.pem does not exist"]),
            command(["serve", smoke, "--listen", "127.0.0.1:0", "--tls", "/x", "--insecure"], mentions: ["--insecure turns TLS off"]),
            command(["serve", smoke, "--listen", "127.0.0.1:0", "--ca", "/x"], mentions: ["--ca, --cert and --key go together"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "0..4", "--tls", "/nonexistent-fednoise"],
                    mentions: ["no certificate for clients 0..4", "/nonexistent-fednoise/clients-0-4.pem"]),
            command(["run", smoke, "--insecure"], mentions: ["--processes N only"]),
            command(["certs", "--clients", "4"], mentions: ["--out DIR is required"]),
            command(["certs", "--out", "/tmp/x", "--clients", "2", "--nodes", "3"], mentions: ["--nodes 3 is more than --clients 2"]),
            command(["certs", "--out", "/tmp/x", "--clients", "0"], mentions: ["--clients", "1…1000000"]),
            command(["serve", smoke, "--insecure"], mentions: ["--listen HOST:PORT is required"]),
            command(["serve", smoke, "--listen", "localhost", "--insecure"], mentions: ["--listen must be HOST:PORT"]),
            command(["serve", smoke, "--listen", "127.0.0.1:70000", "--insecure"], mentions: ["--listen", "0…65535"]),
            command(["serve", "--listen", "127.0.0.1:0", "--insecure"], mentions: ["config file"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "3..12", "--insecure"],
                    mentions: ["--clients 3..12", "0..9"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "4..2", "--insecure"],
                    mentions: ["--clients must be A..B"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--insecure"], mentions: ["--clients A..B is required"]),
            command(["run", smoke, "--processes", "1"], mentions: ["--processes", "2…64"]),
            // Nobody listens on the port: join gives up after --retry-seconds and names the address.
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "0..4", "--insecure", "--retry-seconds", "0"],
                    status: 1, mentions: ["127.0.0.1:1"]),
        ]
    }
}
