#!/usr/bin/env bash
# The Debian packages the test suite needs: Chromium (browser tests), PostgreSQL's server
# binaries (each test run starts a throwaway server) and a Java runtime (Spark tests). Installed with apt-get when running as
# root; otherwise one line says what to install, and the script fails.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages for the tests: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  exit 0
fi
echo "make test needs system packages that are missing: run 'sudo apt-get install -y ${need[*]}' (Debian/Ubuntu), then make test again." >&2
exit 1
