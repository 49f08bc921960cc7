// SocketHub+Peers: the hub's side of each link: admission, the frames a link sends, relays, and disconnection.
import Foundation

extension SocketHub {
    func admit(_ stream: any ByteStream, peer: String, identity: PeerIdentity?) {
        // Until its hello is valid, a peer may send small frames only, for a few seconds only.
        let connection = SocketConnection(stream: stream, peer: peer, limits: limits, identity: identity,
                                          frameLimit: limits.helloFrameLength)
        let admitted = state.withLock { s in
            guard !s.isShutDown, s.peers.count < limits.maximumConnections else { return false }
            s.peers[ObjectIdentifier(connection)] = (connection, false, false)
            return true
        }
        guard admitted else {
            log("refused a connection from \(peer): the hub is shut down or full (\(limits.maximumConnections) links)")
            stream.close()
            return
        }
        connection.start(onFrame: { [weak self] frame, _ in try self?.received(frame, on: connection) },
                         onClose: { [weak self] reason in self?.disconnected(connection, reason) })
        DispatchQueue.global().asyncAfter(deadline: .now() + limits.helloSeconds) { [weak self, weak connection] in
            guard let self, let connection else { return }
            let silent = state.withLock { s in s.peers[ObjectIdentifier(connection)].map { !$0.greeted } ?? false }
            if silent {
                log("closed the connection from \(connection.peer): no valid hello within \(limits.helloSeconds) s")
                connection.close(abort: true)
            }
        }
    }

    private func received(_ frame: SocketFrame, on connection: SocketConnection) throws {
        let me = ObjectIdentifier(connection)
        let (greeted, refused) = state.withLock { ($0.peers[me]?.greeted ?? false, $0.peers[me]?.refused ?? false) }
        if refused { return }  // told why already; the connection is closing
        if case .hello(let version, let theirs) = frame {
            guard !greeted else { throw SocketFrameError.malformed("a second hello") }
            let refusal = version != SocketFrame.version
                ? "protocol version \(version), this hub speaks \(SocketFrame.version)"
                : theirs != session ? "session \(theirs.debugDescription) is not this hub's \(session.debugDescription)"
                : nil
            if let refusal {
                log("refused \(connection.peer): \(refusal)")
                state.withLock { $0.peers[me]?.refused = true }
                connection.enqueue(try SocketFrame.reply(request: 0, status: .failed(refusal)).encoded())
                connection.close()
                return
            }
            state.withLock { $0.peers[me]?.greeted = true }
            connection.allowFullFrames()
            return
        }
        guard greeted else { throw SocketFrameError.malformed("\(frame.kindName) before hello") }
        if case .register = frame { connection.waitForRoom() }  // a peer that does not read its replies waits
        if case .route = frame { connection.waitForRoom() }
        switch frame {
        case .register(let request, let endpoint):
            if let refusal = refusal(registering: endpoint, by: connection) {  // SocketHub+TLS
                connection.enqueue(try SocketFrame.reply(request: request, status: refusal).encoded())
                return
            }
            let status = state.withLock { s -> SocketReply in
                if s.isShutDown { return .shutDown }
                if s.isOpen(endpoint) { return .alreadyRegistered(endpoint) }
                s.remote[endpoint] = me
                s.remoteClosed.remove(endpoint)
                return .ok
            }
            connection.enqueue(try SocketFrame.reply(request: request, status: status).encoded())
        case .close(let endpoint):
            state.withLock { s in
                if s.remote[endpoint] == me {
                    s.remote[endpoint] = nil
                    s.remoteClosed.insert(endpoint)
                }
            }
        case .route(let request, let from, let to, let sequence, let payload):
            if let refusal = refusal(sending: from, by: connection) {  // SocketHub+TLS
                connection.enqueue(try SocketFrame.reply(request: request, status: refusal).encoded())
                return
            }
            try route(request, from: from, to: to, sequence: sequence, payload: payload, origin: connection)
        case .reply(let request, let status):
            let relay = state.withLock { s -> Relay? in
                guard s.relays[request]?.destination == me else { return nil }
                return s.relays.removeValue(forKey: request)
            }
            if let relay { finish(relay, status) }
        case .hello, .deliver, .shutdown:
            throw SocketFrameError.malformed("a link does not send \(frame.kindName) frames")
        }
    }

    /// A link's message: into a mailbox here, or on to the link hosting `to` (blocking this reader while that
    /// link's queue is full: backpressure reaches the sender's socket). Links always read, so the queue drains; one
    /// that stops reading is dropped after ``SocketLimits/stallSeconds`` (its writes time out), which ends the wait.
    private func route(_ request: UInt64, from: EndpointID, to: EndpointID, sequence: UInt64?, payload: Data,
                       origin: SocketConnection) throws {
        let reply = { (status: SocketReply) throws in
            _ = origin.enqueue(try SocketFrame.reply(request: request, status: status).encoded())
        }
        let place: Place
        do throws(TransportError) {
            place = try state.withLock { s throws(TransportError) in try s.place(of: to) }
        } catch {
            try reply(SocketReply(error))
            return
        }
        switch place {
        case .local:
            let message: Message
            do { message = try WireFormat.decode(Message.self, from: payload) }
            catch {
                try reply(.failed("the message from \(from) to \(to) does not decode: \(error)"))
                return
            }
            let status = state.withLock { s -> SocketReply in
                do throws(TransportError) {
                    let stamped = sequence ?? s.nextSequence[from, default: 0]
                    try s.mailboxes.deliver(Envelope(from: from, to: to, sequence: stamped, message: message))
                    if sequence == nil { s.nextSequence[from] = stamped + 1 }
                    return .ok
                } catch {
                    return SocketReply(error)
                }
            }
            try reply(status)
        case .remote(let destination):
            let (id, stamped) = state.withLock { s in
                defer { s.nextRelay += 1 }
                s.relays[s.nextRelay] = Relay(waiter: .remote(origin, request: request),
                                              destination: ObjectIdentifier(destination), to: to)
                return (s.nextRelay, s.stamp(from, sequence))
            }
            let bytes = try SocketFrame.deliver(request: id, from: from, to: to, sequence: stamped, payload: payload)
                .outgoing(maximumLength: limits.maximumFrameLength)
            if !destination.sendBlocking(bytes) { settle(id, .endpointClosed(to)) }
        }
    }

    /// Answers `relay`.
    func finish(_ relay: Relay, _ status: SocketReply) { answer(relay.waiter, status) }

    /// Answers relay `id` with `status` if it is still waiting.
    func settle(_ id: UInt64, _ status: SocketReply) {
        if let relay = state.withLock({ $0.relays.removeValue(forKey: id) }) { finish(relay, status) }
    }

    func answer(_ waiter: Waiter, _ status: SocketReply) {
        switch waiter {
        case .local(let slot): slot.fulfil(.success(status))
        case .remote(let origin, let request):
            if let bytes = try? SocketFrame.reply(request: request, status: status).encoded() { origin.enqueue(bytes) }
        }
    }

    /// A link's connection ended: its endpoints close (sends to them fail at once), relays waiting on it fail.
    private func disconnected(_ connection: SocketConnection, _ reason: (any Error)?) {
        let me = ObjectIdentifier(connection)
        let (orphans, closed, quiet) = state.withLock { s -> ([Relay], [EndpointID], Bool) in
            let peer = s.peers.removeValue(forKey: me)
            s.largestPastQueue = max(s.largestPastQueue, connection.queuePeak)
            var closed: [EndpointID] = []
            for (endpoint, owner) in s.remote where owner == me {
                s.remote[endpoint] = nil
                s.remoteClosed.insert(endpoint)
                closed.append(endpoint)
            }
            let lost = s.relays.filter { $0.value.destination == me }
            for id in lost.keys { s.relays[id] = nil }
            // Nothing to say about a refused peer (logged already) or the end of the run.
            return (Array(lost.values), closed.sorted(), s.isShutDown || peer?.refused == true)
        }
        for relay in orphans { finish(relay, .endpointClosed(relay.to)) }
        let endpoints = closed.isEmpty ? "" : "; closed its endpoints " + closed.map(\.description).joined(separator: ", ")
        if let reason {
            log("closed the connection from \(connection.peer): \(reason)\(endpoints)")
        } else if !quiet && !closed.isEmpty {
            log("the connection from \(connection.peer) ended\(endpoints)")
        }
    }
}
