#!/usr/bin/env python3
"""image-only-pdf.py PAGE.pgm OUT.pdf — a one-page PDF whose page is the grayscale image and
nothing else (a scan without a text layer), rendered at 150 dpi. For docker/smoke-test.sh."""

import sys


def read_pgm(data: bytes) -> tuple[int, int, bytes]:
    fields, at = [], 0
    while len(fields) < 4:  # P5 width height maxval, separated by whitespace
        while data[at : at + 1].isspace():
            at += 1
        start = at
        while not data[at : at + 1].isspace():
            at += 1
        fields.append(data[start:at])
    if fields[0] != b"P5" or fields[3] != b"255":
        raise SystemExit("expected an 8-bit binary PGM (P5)")
    return int(fields[1]), int(fields[2]), data[at + 1 :]


def pdf(width: int, height: int, pixels: bytes) -> bytes:
    w_pt, h_pt = width * 72 // 150, height * 72 // 150
    content = f"q {w_pt} 0 0 {h_pt} 0 0 cm /Im0 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w_pt} {h_pt}] "
        "/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>".encode(),
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray "
        f"/BitsPerComponent 8 /Length {len(pixels)} >>\nstream\n".encode() + pixels + b"\nendstream",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as source:
        page = read_pgm(source.read())
    with open(sys.argv[2], "wb") as target:
        target.write(pdf(*page))
