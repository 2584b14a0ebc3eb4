#!/bin/sh
# vdc prerm: stop the daemon before its files go (it drains first).
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	systemctl stop vdc.service || true
fi
