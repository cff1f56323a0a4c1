#!/bin/sh
# Nightly backup of the database and the stored files: one archive, kept KEEP_DAYS
# here, copied off-site. Installed as /usr/local/bin/grants-backup; run as the
# grants user with the application's environment (grants-backup.service, or cron).
set -eu

APP=/srv/grants/app
DEST=/var/backups/grants
KEEP_DAYS=14
# Where the off-site copies go (rsync destination); empty: no off-site copy.
OFFSITE="backup@vault.example.org:grants/"

umask 077
mkdir -p "$DEST"
cd "$APP"
FLASK_APP=wsgi.py .venv/bin/flask grants backup "$DEST"

# Local retention: archives older than KEEP_DAYS days go.
find "$DEST" -name 'grants-backup-*.tar.gz' -mtime +"$KEEP_DAYS" -delete

if [ -n "$OFFSITE" ]; then
    # Only new archives; the far side keeps its own, longer, retention.
    rsync --archive --ignore-existing "$DEST"/ "$OFFSITE"
fi
