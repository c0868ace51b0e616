#!/bin/sh
# Starts clerksync as a FastCGI server on a Unix socket for nginx
# (nginx.conf beside this file). It stays in the foreground (-n): run it
# from systemd, runit or supervisord, which restart it if it ends; stop
# it with SIGTERM (the request in hand is finished first). Run as root so
# that spawn-fcgi can switch to @USER@.
# Placeholders, replace them before use:
#   @BIN@      absolute path of clerksync.fcgi
#   @CONF@     absolute path of the config file (readable by @USER@ only)
#   @SOCKET@   the Unix socket nginx connects to; its directory must exist
#   @USER@     the account clerksync runs as (not root)
#   @WEBUSER@  the user nginx's workers run as (www-data on Debian): it
#              owns the socket, which nobody else may use (mode 0600)
set -e
CLERKSYNC_CONFIG='@CONF@'
export CLERKSYNC_CONFIG
exec spawn-fcgi -n -s '@SOCKET@' -M 0600 -U '@WEBUSER@' -u '@USER@' -- '@BIN@'
