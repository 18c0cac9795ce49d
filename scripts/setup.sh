#!/usr/bin/env bash
# Set up fastvlm-explorer on a fresh Debian/Ubuntu machine: system packages the tests and the
# tier-1 proxy need, then a virtualenv in .venv with the project installed (editable).
#   scripts/setup.sh            # idempotent; re-run after pulling
# System packages: tesseract-ocr (tier-1 proxy reader), postgresql (multi-worker tests),
# chromium (dashboard browser test), DejaVu fonts (synthetic pages), the GL and GLib libraries
# OpenCV loads (RapidOCR, the second proxy reader).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v tesseract >/dev/null || need_apt+=(tesseract-ocr tesseract-ocr-eng)
command -v chromium >/dev/null || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null \
  || need_apt+=(postgresql)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
libs=$({ ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null || true)  # not on a user's PATH
grep -q 'libGL\.so\.1 ' <<<"$libs" || need_apt+=(libgl1)
grep -q 'libglib-2\.0\.so\.0 ' <<<"$libs" || need_apt+=(libglib2.0-0)
"${PYTHON:-python3}" -c "import ensurepip" 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing system packages: ${need_apt[*]}"
  $sudo apt-get update -q || echo "apt-get update failed; trying the install anyway" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch and torchvision first, as a pair that imports together (timm needs torchvision).
.venv/bin/python -m pip install -q torch torchvision
.venv/bin/python -m pip install -q -e '.[test]'
echo "ready: .venv/bin/fastvlm-explore --help"
