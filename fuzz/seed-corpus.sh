#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds taken from testdata/ (see fuzz/README.md).
# Safe to run again: seeds are named by content, existing corpus entries are kept.
#
#   pcap_reader, resync,  every classic pcap under testdata/pcaps (told by magic number)
#   and pieces
#   pcapng_reader         every pcapng under testdata/pcaps
#   and pieces
#   decode                single frames cut out of those captures, as the target reads
#                         them: [link-type selector, wire-length byte, frame...]
#                         (needs python3; skipped without it)
#   strace                every strace log under testdata/label, as is and behind a
#                         date and UTC-offset line (the target's time-of-day mode)
set -euo pipefail

fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz_dir")"
corpus="$fuzz_dir/corpus"
mkdir -p "$corpus"/{pcap_reader,pcapng_reader,decode,resync,pieces,strace}

# Copies a file (or stdin, with "-") into a corpus directory under its content hash.
put() {
  local dir="$1" src="$2" tmp
  tmp="$(mktemp)"
  cat "$src" >"$tmp"
  mv "$tmp" "$dir/$(sha1sum "$tmp" | cut -c1-40)"
}

magic() { od -An -tx1 -N4 "$1" | tr -d ' \n'; }

pcaps=0 pcapngs=0
while IFS= read -r -d '' f; do
  case "$(magic "$f")" in
    d4c3b2a1 | a1b2c3d4 | 4d3cb2a1 | a1b23c4d | 34cdb2a1 | a1b2cd34)
      put "$corpus/pcap_reader" "$f"
      put "$corpus/resync" "$f"
      put "$corpus/pieces" "$f"
      pcaps=$((pcaps + 1))
      ;;
    0a0d0d0a)
      put "$corpus/pcapng_reader" "$f"
      put "$corpus/pieces" "$f"
      pcapngs=$((pcapngs + 1))
      ;;
  esac
done < <(find "$root/testdata/pcaps" -type f -print0)
# One input for the resync target's second mode (anything without a pcap magic is read
# as the description of a capture to build).
printf '\x00\x01\x10\x20\x30\x40\x11\x22\x33\x44\x55\x66\x77\x88\x3c\x00\x10\x00\x00\xdc\x05\x20\x00\x08\x28\x00\x00\x80\x00' |
  put "$corpus/resync" -

logs=0
while IFS= read -r -d '' f; do
  put "$corpus/strace" "$f"
  { printf '2020-05-06\n+02:00\n'; cat "$f"; } | put "$corpus/strace" -
  logs=$((logs + 1))
done < <(find "$root/testdata/label" -type f -name '*.strace*' -print0)

frames=0
if command -v python3 >/dev/null; then
  frames="$(python3 - "$root/testdata/pcaps" "$corpus/decode" <<'PY'
import hashlib, os, struct, sys

# The order of flowmine_core::wire::linktype::SUPPORTED: the target's selector byte is an
# index into it.
SUPPORTED = [0, 1, 9, 50, 101, 108, 113, 192, 228, 229, 276]
PER_FILE = 16  # the first frames of each capture are enough to reach every decoder path

def pcap_frames(b):
    if len(b) < 24:
        return
    magic = b[:4]
    for endian, m in (("<", magic), (">", magic)):
        (value,) = struct.unpack(endian + "I", m)
        if value in (0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34):
            break
    else:
        return
    hdr = 24 if value == 0xA1B2CD34 else 16
    link = struct.unpack(endian + "I", b[20:24])[0] & 0xFFFF
    minor = struct.unpack(endian + "H", b[6:8])[0]
    pos = 24
    while pos + hdr <= len(b):
        first, second = struct.unpack(endian + "II", b[pos + 8:pos + 16])
        caplen = second if minor < 3 or (minor == 3 and first > second) else first
        data = b[pos + hdr:pos + hdr + caplen]
        if len(data) < caplen:
            return
        yield link, data
        pos += hdr + caplen

def pcapng_frames(b):
    pos, endian, links = 0, "<", []
    while pos + 12 <= len(b):
        if b[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
            endian = "<" if b[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        btype, blen = struct.unpack(endian + "II", b[pos:pos + 8])
        if blen < 12 or blen % 4 or pos + blen > len(b):
            return
        body = b[pos + 8:pos + blen - 4]
        if btype == 1 and len(body) >= 2:
            links.append(struct.unpack(endian + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            iface, _, _, caplen, _ = struct.unpack(endian + "IIIII", body[:20])
            if iface < len(links):
                yield links[iface], body[20:20 + caplen]
        pos += blen

out_dir = sys.argv[2]
count = 0
for dirpath, _, names in os.walk(sys.argv[1]):
    for name in sorted(names):
        b = open(os.path.join(dirpath, name), "rb").read()
        frames = pcapng_frames(b) if b[:4] == b"\x0a\x0d\x0d\x0a" else pcap_frames(b)
        for i, (link, data) in enumerate(frames):
            if i == PER_FILE:
                break
            if link not in SUPPORTED:
                continue
            seed = bytes([SUPPORTED.index(link), 0]) + data
            path = os.path.join(out_dir, hashlib.sha1(seed).hexdigest())
            if not os.path.exists(path):
                open(path, "wb").write(seed)
                count += 1
print(count)
PY
)"
else
  echo "python3 not found: no decode seeds (the decode target still runs from an empty corpus)" >&2
fi

echo "seeded: $pcaps pcap, $pcapngs pcapng, $logs strace logs, $frames new frames under $corpus"
