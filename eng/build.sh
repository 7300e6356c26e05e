#!/usr/bin/env bash
# Main job: set-up (peer packages), restore, Release build, pack.
# The NuGet package is written to artifacts/packages/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash eng/install-peers.sh haproxy
dotnet restore ProxyKestrel.sln
dotnet build ProxyKestrel.sln -c Release --no-restore
dotnet pack src/ProxyKestrel.ProxyProtocol -c Release -o artifacts/packages --no-build
dotnet pack src/ProxyKestrel.AspNetCore -c Release -o artifacts/packages --no-build
dotnet pack src/ProxyKestrel.Gateway -c Release -o artifacts/packages --no-build

echo "Package(s) in $(pwd)/artifacts/packages:"
ls -1 artifacts/packages
