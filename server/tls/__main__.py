"""`python -m server.tls DIR HOST...`: the local CA and a server certificate in DIR.

For shell entrypoints (compose) that need the files before any camfleet program starts. Prints
the certificate, key and CA paths, one a line.
"""

from __future__ import annotations

import argparse
import sys

from server.tls.ca import CertificateError, ensure_certificate, operator_certificate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.tls", description=__doc__)
    parser.add_argument("directory", help="where the CA and certificates live (made if missing)")
    parser.add_argument(
        "hosts", nargs="*", help="DNS names and IP addresses the certificate is for"
    )
    parser.add_argument(
        "--name", default="server", help="file name stem: NAME.pem and NAME-key.pem"
    )
    parser.add_argument(
        "--client", action="store_true", help="also valid as a TLS client certificate"
    )
    parser.add_argument(
        "--cert", help="the operator's own certificate (with --key): checked, used as is"
    )
    parser.add_argument("--key", help="the operator's own private key")
    parser.add_argument("--ca", help="the CA clients trust for --cert (default: --cert itself)")
    args = parser.parse_args(argv)
    try:
        if args.cert or args.key:
            if not (args.cert and args.key):
                parser.error("--cert and --key go together")
            files = operator_certificate(args.cert, args.key, args.ca)
        else:
            if not args.hosts:
                parser.error("name at least one host or IP address for the certificate")
            files = ensure_certificate(args.directory, args.hosts, args.name, client=args.client)
    except (CertificateError, OSError) as e:
        print(f"camfleet tls: {e}", file=sys.stderr)
        return 1
    print(files.cert, files.key, files.ca, sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
