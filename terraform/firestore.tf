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
