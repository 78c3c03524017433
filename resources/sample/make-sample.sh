#!/bin/sh
# Records resources/sample/tapscope-sample.pcapng: a small HTTP site with a few faults,
# made in two network namespaces (tsDc client, tsDs server) joined by a veth pair.
#   - normal page loads (keep-alive and new connections) for shop.example.test
#   - /api/flaky answers 503 Service Unavailable
#   - /api/reset: the server resets the connection mid-exchange (RST)
#   - port 8081 is closed: the connection is refused (RST to SYN)
#   - /download/*: 64 KiB responses through ~10 % random loss on the server's egress
#     (iptables statistic on the client's input, after the capture point), so there are retransmissions
#   - /slow answers after 400 ms (a slow time to first byte)
# Needs root, iproute2, iptables, dumpcap (Wireshark), curl and node. Run from the repo root.
set -eu
OUT=${1:-resources/sample/tapscope-sample.pcapng}
C=tsDc; S=tsDs
cleanup() {
  [ -n "${CAP:-}" ] && kill "$CAP" 2>/dev/null || true
  [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null || true
  ip netns del $C 2>/dev/null || true
  ip netns del $S 2>/dev/null || true
}
trap cleanup EXIT INT TERM
cleanup
ip netns add $C; ip netns add $S
ip link add tsDc0 type veth peer name tsDs0
ip link set tsDc0 netns $C; ip link set tsDs0 netns $S
ip -n $C addr add 10.77.0.1/24 dev tsDc0; ip -n $S addr add 10.77.0.2/24 dev tsDs0
ip -n $C link set tsDc0 up; ip -n $S link set tsDs0 up
ip -n $C link set lo up; ip -n $S link set lo up
# Offloads off so the capture shows wire-sized segments.
ip netns exec $C ethtool -K tsDc0 tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec $S ethtool -K tsDs0 tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec $S node -e '
const http = require("http");
const page = "<html><body>" + "hello shop ".repeat(300) + "</body></html>";
const big = Buffer.alloc(64 * 1024, 120);
http.createServer((req, res) => {
  if (req.url === "/api/flaky") { res.writeHead(503, { "content-type": "text/plain" }); return res.end("busy\n"); }
  if (req.url === "/api/reset") { return req.socket.resetAndDestroy(); }
  if (req.url === "/slow") { return setTimeout(() => { res.writeHead(200, { "content-type": "application/json" }); res.end("{\"ok\":true}"); }, 400); }
  if (req.url.startsWith("/download/")) { res.writeHead(200, { "content-type": "application/octet-stream" }); return res.end(big); }
  res.writeHead(200, { "content-type": "text/html" }); res.end(page);
}).listen(80, "10.77.0.2");
' & SRV=$!
sleep 0.5
rm -f "$OUT"
ip netns exec $C dumpcap -q -i tsDc0 -w "$OUT" >/dev/null 2>&1 & CAP=$!
sleep 1
H="Host: shop.example.test"
cl() {
  # One curl per call keeps a keep-alive connection for several URLs; -o per URL.
  set -- $(for u in "$@"; do printf '%s -o /dev/null ' "$u"; done)
  ip netns exec $C curl -s -m 5 -H "$H" "$@" || true
}
cl http://10.77.0.2/ http://10.77.0.2/index.html http://10.77.0.2/app.css
cl http://10.77.0.2/api/flaky
cl http://10.77.0.2/
cl http://10.77.0.2/api/reset
cl http://10.77.0.2:8081/
cl http://10.77.0.2/slow
# Drop on the client's input: a drop in the sender's own OUTPUT chain is a local error TCP
# retries at once, not loss on the wire.
ip netns exec $C iptables -A INPUT -p tcp --sport 80 -m statistic --mode random --probability 0.10 -j DROP
cl http://10.77.0.2/download/a.bin
cl http://10.77.0.2/download/b.bin
cl http://10.77.0.2/download/c.bin
ip netns exec $C iptables -F INPUT
cl http://10.77.0.2/api/flaky
cl http://10.77.0.2/ http://10.77.0.2/about
sleep 1
kill $CAP; wait $CAP 2>/dev/null || true
CAP=
chmod 644 "$OUT"
ls -l "$OUT"
