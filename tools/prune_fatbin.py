"""Zero the fatbin entries an sm_90 GPU never loads (SASS for other archs, PTX newer than 9.0)."""
import struct, sys
def sections(data):
    e_shoff, = struct.unpack_from('<Q', data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from('<HHH', data, 0x3A)
    shs = [struct.unpack_from('<IIQQQQ', data, e_shoff + i*e_shentsize) for i in range(e_shnum)]
    stroff = shs[e_shstrndx][4]
    return {data[stroff+s[0]: data.index(b'\0', stroff+s[0])].decode(): (s[4], s[5]) for s in shs}
def prune(path, out):
    data = bytearray(open(path, 'rb').read())
    off, size = sections(bytes(data))['.nv_fatbin']
    pos, end, zeroed = off, off + size, 0
    while pos < end:
        magic, ver, hsz, fsz = struct.unpack_from('<IHHQ', data, pos)
        if magic != 0xBA55ED50:
            pos += 8; continue
        e, eend = pos + hsz, pos + hsz + fsz
        while e < eend:
            kind, _, ehsz, psz = struct.unpack_from('<HHIQ', data, e)
            arch, = struct.unpack_from('<I', data, e + 28)
            keep = arch == 90 or (kind == 1 and arch <= 90)
            if not keep:
                data[e + ehsz: e + ehsz + psz] = bytes(psz); zeroed += psz
            e += ehsz + psz
        pos = eend
    open(out, 'wb').write(data)
    print(path, 'zeroed', zeroed >> 20, 'MiB')
for p in sys.argv[1:]:
    prune(p, p)
