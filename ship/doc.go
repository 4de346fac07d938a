// Package ship gets sealed capture parts off the recording host into
// S3-compatible object storage (AWS S3, MinIO, Ceph RGW, versitygw).
//
// Each part is uploaded once it is complete, under
// PREFIX/HOST/MACHINE-ID/BOOT-ID/SET-ID/PART.zst, with its SHA-256 sent as
// the object checksum (the server recomputes and refuses a mismatch), never
// replacing an object that is already there, optionally under object-lock
// retention. A part waiting for upload has a marker file NAME.pending beside
// it, created when the part is opened: a restarted recorder finds the parts
// an earlier run left unsent by their markers. The local copy of a part is
// removed only after its upload is confirmed, and only when the local
// retention (--max-files) would remove it.
//
// The client is aws-sdk-go-v2: it is the reference implementation of the
// standard AWS configuration (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_PROFILE and the
// shared config and credentials files, SSO, web identity for Kubernetes
// service accounts, instance metadata), which minio-go only partly reads,
// and it has the flexible checksums (x-amz-checksum-sha256) and object lock
// fields as typed request fields.
package ship
