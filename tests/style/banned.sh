#!/bin/sh
# banned.sh SRCDIR - fails when C sources use functions STYLE.md bans.
set -eu
cd "$1"
pattern='\b(strcpy|strcat|sprintf|vsprintf|strncpy|strtok|gets|atoi|atol|alloca)[[:space:]]*\('
if grep -rnE "$pattern" --include='*.c' --include='*.h' lib cli include \
    fuzz bench tests 2>/dev/null | grep -v 'tests/style/'; then
    echo "not ok - banned functions used (STYLE.md 5)"
    exit 1
fi
echo "ok - no banned functions"
