# Database backups (docs/backup.md). The targets run the `loyalty` binary built from this
# checkout; set LOYALTY_BIN to use an installed one instead, such as
#   make db-backup LOYALTY_BIN=/usr/local/bin/loyalty
# Configuration comes from the environment as usual (DATABASE_URL, AUTHENTIK_DATABASE_URL,
# LOYALTY_BACKUP__DIR, LOYALTY_CONFIG).

LOYALTY_BIN ?=
ifeq ($(strip $(LOYALTY_BIN)),)
LOYALTY := cargo run --release --bin loyalty --
else
LOYALTY := $(LOYALTY_BIN)
endif

.PHONY: help db-backup db-list-backups db-restore db-prune

help:
	@echo "make db-backup [LABEL=pre-onboard-nextdoor]   take a backup set now"
	@echo "make db-list-backups                          list the backup sets"
	@echo "make db-restore BACKUP=latest|YYYYMMDD_HHMMSS [YES=1]   restore a set (asks first unless YES=1)"
	@echo "make db-prune [DRY_RUN=1]                     delete sets past their retention"

db-backup:
	$(LOYALTY) backup create $(if $(LABEL),--label '$(LABEL)')

db-list-backups:
	$(LOYALTY) backup list

db-restore:
	@if [ -z "$(BACKUP)" ]; then \
		echo "make db-restore needs BACKUP=latest or BACKUP=YYYYMMDD_HHMMSS (a set from 'make db-list-backups'), such as: make db-restore BACKUP=latest" >&2; \
		exit 2; \
	fi
	$(LOYALTY) backup restore '$(BACKUP)' $(if $(YES),--yes)

db-prune:
	$(LOYALTY) backup prune $(if $(DRY_RUN),--dry-run)
