#!/bin/sh
# vdc postinst: the service user, then systemd picks up the unit (it is
# not enabled: configure /etc/vdc first, then systemctl enable --now vdc).
set -e
if [ "$1" = configure ] || [ "$1" = "" ]; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers vdc.conf
	elif ! getent passwd vdc >/dev/null; then
		adduser --system --group --home /var/lib/vdc --no-create-home vdc
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
fi
