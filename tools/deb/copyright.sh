#!/usr/bin/env bash
# Prints /usr/share/doc/prefixbl/copyright for tools/package-deb.sh: prefixbl itself and every
# package statically linked into /usr/sbin/prefixbl, with the versions this build resolved
# ($PREFIXBL_SCRATCH/workspace-state.json, default .build) and the Swift toolchain's runtime.
set -euo pipefail
cd "$(dirname "$0")/../.."
cat <<'TEXT'
prefixbl: an aggregating DNS blocklist (DNSBL) server for IPv6 and IPv4.
This package was built by tools/package-deb.sh from the prefixbl git repository.

prefixbl
  Copyright: the prefixbl authors (see the git history).
  License: not declared yet (the repository carries no license file).

Statically linked into /usr/sbin/prefixbl, each under the Apache License,
Version 2.0, whose full text is in /usr/share/common-licenses/Apache-2.0:
TEXT
printf '  - the Swift runtime, standard library, Foundation and Dispatch (%s),\n' \
  "$(swift --version 2>/dev/null | sed -n 's/^\(.*Swift version [^ ]*\).*/\1/p' | head -1)"
cat <<'TEXT'
    Copyright Apple Inc. and the Swift project authors, with the Runtime Library
    Exception:
      As an exception, if you use this Software to compile your source code and
      portions of this Software are embedded into the binary product as a result,
      you may redistribute such product without providing attribution as would
      otherwise be required by Sections 4(a), 4(b) and 4(d) of the License.
TEXT
PREFIXBL_SCRATCH=${PREFIXBL_SCRATCH:-.build} python3 - <<'PY'
import json, os, pathlib, re
scratch = os.environ["PREFIXBL_SCRATCH"]
state = json.load(open(f"{scratch}/workspace-state.json"))
for dep in sorted(state["object"]["dependencies"], key=lambda d: d["packageRef"]["identity"]):
    ref, checkout = dep["packageRef"], dep["state"].get("checkoutState", {})
    where = ref.get("location", "").removesuffix(".git")
    print(f"  - {ref['identity']} {checkout.get('version') or checkout.get('revision', '')[:12]} ({where}),")
    notice = pathlib.Path(scratch, "checkouts", ref["identity"], "NOTICE.txt")
    line = next((l.strip() for l in (notice.read_text().splitlines() if notice.exists() else [])
                 if re.match(r"\s*Copyright", l)), f"Copyright the {ref['identity']} project authors")
    print(f"    {line}")
PY
cat <<'TEXT'
  swift-crypto includes BoringSSL, Apache License 2.0 as well.

Dynamically linked, from Debian: libldns (BSD-3-clause), zlib (Zlib) and the
GNU C library; see their packages' copyright files.
TEXT
