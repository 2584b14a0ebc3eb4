// Package minio is the production agents.ObjectStore: the customer's dump
// folder on S3, spoken with minio-go, so it works against MinIO (the data
// services VM of each Agent VDC, and `make test`) and Exoscale SOS.
//
// # Isolation: one bucket per customer
//
// Every customer gets its own bucket, named BucketPrefix + customer name
// (both validated, so the name is always a legal S3 bucket name). A bucket
// is the unit S3 attaches access policies, quotas, lifecycle rules,
// versioning and replication to: a customer-scoped access key is a one-line
// bucket policy, deleting a customer is deleting one bucket, and a bug in
// key handling cannot list or read across customers because every request
// names the customer's bucket. Buckets are created on first write; reads
// of a customer without a bucket see an empty folder.
//
// Providers that cap the number of buckets per account (AWS's default is
// 100) can set Config.SharedBucket instead: all customers share that
// bucket and each customer's keys live under "customer/". Every key is
// validated with agents.ValidateKey before the prefix is added, so no key
// can climb out of its prefix; the same conformance suite runs in both
// modes.
//
// # Uploads of unknown size
//
// minio-go uploads a stream of unknown length as a multipart upload with a
// part buffer sized for a 5 TiB object. Put avoids that: it reads up to
// MemSpool bytes into memory and sends a single PUT; a longer stream is
// spooled to a temporary file first and uploaded with its real size. Single
// PUTs give MD5 ETags, so identical content has identical ETags.
package minio
