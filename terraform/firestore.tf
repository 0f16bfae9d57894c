# The (default) database in native mode (the code uses the default database).
# Abandoned rather than deleted on destroy, and delete-protected: it holds the inventory.
resource "google_firestore_database" "default" {
  count = var.create_firestore_database ? 1 : 0

  name                    = "(default)"
  location_id             = var.firestore_location != null ? var.firestore_location : var.region
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.api]
}

# Indexes the queries need.
#
# Automatic single-field indexes (Firestore creates them; nothing to declare) serve:
#   machines:       where('macs', 'array-contains', mac).count()
#                   orderBy('id'), orderBy('id') + where('id', '>', x)   (unfiltered pages)
#   boot_profiles:  lookups by document id, and equality filters on the blob references
#                   kernel.id / initrd.id (single field each).
#
# Composite index: an array-contains filter combined with an order on another field
# (the MAC-filtered, id-ordered pages of GET /api/v1/machines?mac=...):
#   machines:       where('macs', 'array-contains', mac).orderBy('id')
#                   ... + where('id', '>', x) and the keys-only .select() variant
resource "google_firestore_index" "machines_by_mac_then_id" {
  project     = var.project_id
  database    = "(default)"
  collection  = "machines"
  query_scope = "COLLECTION"

  fields {
    field_path   = "macs"
    array_config = "CONTAINS"
  }

  fields {
    field_path = "id"
    order      = "ASCENDING"
  }

  depends_on = [google_firestore_database.default]
}

# Rate-limit state (shared/ratelimit): per-minute counters and download-slot leases. A
# database of its own, so that the boot functions, which must write this state, get write
# access to it alone (iam.tf) and stay read-only on the inventory. Its data lives for
# minutes: no delete protection, and the TTL policies below delete what has expired.
resource "google_firestore_database" "rate_limits" {
  name                    = "${var.name_prefix}-rate-limits"
  location_id             = var.firestore_location != null ? var.firestore_location : var.region
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = "DELETE_PROTECTION_DISABLED"
  deletion_policy         = "DELETE"

  depends_on = [google_project_service.api]
}

# TTL on `expire_at` (a counter's window end plus a minute; a lease's expiry), without
# single-field indexes: no query filters on it, and indexing an ever-increasing timestamp
# would only create a write hot spot. Expired documents are deleted within about a day;
# the code never relies on that (windows and lease expiries are checked on read).
resource "google_firestore_field" "rate_limit_ttl" {
  for_each = toset(["rate_limits", "download_slots"])

  project    = var.project_id
  database   = google_firestore_database.rate_limits.name
  collection = each.value
  field      = "expire_at"

  ttl_config {}

  index_config {}
}

# sum(n) over a counter's shards: where('counter', '==', id) with the summed field indexed.
# Download slots query where('pool', '==', pool), which the automatic index serves.
resource "google_firestore_index" "rate_limit_window_totals" {
  project     = var.project_id
  database    = google_firestore_database.rate_limits.name
  collection  = "rate_limits"
  query_scope = "COLLECTION"

  fields {
    field_path = "counter"
    order      = "ASCENDING"
  }

  fields {
    field_path = "n"
    order      = "ASCENDING"
  }
}

# Fleet lifecycle (README, Fleet lifecycle): discovered MACs (`discoveries/{mac}`) and boot
# records (`machines/{id}/boots/{boot id}`, a collection group) expire on `expire_at`. The code
# filters expired ones on read, so the (up to a day late) TTL deletion only bounds storage.
# Discoveries are listed with where('expire_at', '>', now).orderBy('expire_at', 'desc'): the
# single-field index stays on for that collection; boot records are read by id only.
resource "google_firestore_field" "discoveries_ttl" {
  project    = var.project_id
  database   = "(default)"
  collection = "discoveries"
  field      = "expire_at"

  ttl_config {}

  depends_on = [google_firestore_database.default]
}

resource "google_firestore_field" "boot_records_ttl" {
  project    = var.project_id
  database   = "(default)"
  collection = "boots"
  field      = "expire_at"

  ttl_config {}

  index_config {}

  depends_on = [google_firestore_database.default]
}

# Daily backups of the inventory database (docs/operating.md, Backups and restore). A backup
# restores into a new database (gcloud firestore databases restore); the rate-limit database
# holds only counters that expire within minutes and is not backed up.
resource "google_firestore_backup_schedule" "daily" {
  count = var.firestore_backup_retention_days > 0 ? 1 : 0

  database  = "(default)"
  retention = "${var.firestore_backup_retention_days * 86400}s"

  daily_recurrence {}

  depends_on = [google_firestore_database.default]
}
