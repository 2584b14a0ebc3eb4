#!/bin/sh
# vdc postrm: the state in /var/lib/vdc stays (purge removes nothing
# either: it holds the customers' state and secrets; delete it by hand).
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
