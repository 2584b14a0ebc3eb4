package minio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/agentvdc/agentvdc/agents"
	mgo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config configures a Store.
type Config struct {
	Endpoint  string // host[:port], no scheme
	AccessKey string
	SecretKey string
	Secure    bool   // HTTPS
	Region    string // e.g. "ch-gva-2" for Exoscale SOS; "" lets MinIO default
	// BucketPrefix is prepended to the customer name to form its bucket
	// (default "vdc-"). Lower-case letters, digits and '-', at most 30
	// characters, starting with a letter or digit.
	BucketPrefix string
	// SharedBucket, when set, puts every customer in this one bucket under
	// the key prefix "customer/" instead of a bucket per customer.
	SharedBucket string
	// MemSpool is the largest unknown-size upload buffered in memory
	// (default 32 MiB); longer streams are spooled to a temp file.
	MemSpool int64
	// SpoolDir holds temp files of large unknown-size uploads ("" = os.TempDir()).
	SpoolDir string
	// DialContext, when set, makes every connection to Endpoint (e.g.
	// through the customer's WireGuard tunnel); nil dials directly.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	Logger      *slog.Logger
}

// Store is an agents.ObjectStore on S3.
type Store struct {
	cfg    Config
	client *mgo.Client
	log    *slog.Logger
	// made remembers buckets known to exist.
	made sync.Map
}

var _ agents.ObjectStore = (*Store)(nil)

// New returns a Store; it does not contact the server.
func New(cfg Config) (*Store, error) {
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("minio: %w: endpoint is required", agents.ErrInvalidArgument)
	}
	if cfg.BucketPrefix == "" {
		cfg.BucketPrefix = "vdc-"
	}
	if err := validBucketPart(cfg.BucketPrefix, 30); err != nil {
		return nil, fmt.Errorf("minio: bucket prefix: %w", err)
	}
	if cfg.SharedBucket != "" {
		if err := validBucketPart(cfg.SharedBucket, 63); err != nil || len(cfg.SharedBucket) < 3 {
			return nil, fmt.Errorf("minio: %w: shared bucket %q is not a valid bucket name", agents.ErrInvalidArgument, cfg.SharedBucket)
		}
	}
	if cfg.MemSpool <= 0 {
		cfg.MemSpool = 32 << 20
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := &mgo.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		BucketLookup: mgo.BucketLookupPath,
	}
	if cfg.DialContext != nil {
		tr, err := mgo.DefaultTransport(cfg.Secure)
		if err != nil {
			return nil, fmt.Errorf("minio: transport: %w", err)
		}
		tr.DialContext, tr.Proxy = cfg.DialContext, nil
		opts.Transport = tr
	}
	c, err := mgo.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("minio: client for %s: %w", cfg.Endpoint, err)
	}
	return &Store{cfg: cfg, client: c, log: log}, nil
}

func validBucketPart(s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%w: %q must be 1-%d characters", agents.ErrInvalidArgument, s, max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return fmt.Errorf("%w: %q may hold only a-z, 0-9 and '-' (not first)", agents.ErrInvalidArgument, s)
		}
	}
	return nil
}

// base validates customer and returns its bucket and the object name
// prefix of its namespace ("" with a bucket per customer).
func (s *Store) base(customer string) (bucket, prefix string, err error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return "", "", err
	}
	if s.cfg.SharedBucket != "" {
		return s.cfg.SharedBucket, customer + "/", nil
	}
	return s.cfg.BucketPrefix + customer, "", nil
}

// loc validates customer and key and returns bucket and object name.
func (s *Store) loc(customer, key string) (bucket, object string, err error) {
	bucket, prefix, err := s.base(customer)
	if err != nil {
		return "", "", err
	}
	if err := agents.ValidateKey(key); err != nil {
		return "", "", err
	}
	return bucket, prefix + key, nil
}

// strip turns an object name back into the customer's key.
func (s *Store) strip(customer, object string) string {
	if s.cfg.SharedBucket != "" {
		return strings.TrimPrefix(object, customer+"/")
	}
	return object
}

func isNotFound(err error) bool {
	r := mgo.ToErrorResponse(err)
	return r.Code == "NoSuchKey" || r.Code == "NoSuchBucket" || r.StatusCode == 404
}

func isNoBucket(err error) bool {
	return mgo.ToErrorResponse(err).Code == "NoSuchBucket"
}

func info(key string, oi mgo.ObjectInfo) agents.ObjectInfo {
	return agents.ObjectInfo{Key: key, ETag: oi.ETag, Size: oi.Size, ModTime: oi.LastModified.UTC()}
}

// List implements agents.ObjectStore.
func (s *Store) List(ctx context.Context, customer string, opts agents.ListOptions) (agents.ObjectPage, error) {
	bucket, base, err := s.base(customer)
	if err != nil {
		return agents.ObjectPage{}, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = agents.DefaultListLimit
	}
	prefix := base + opts.Prefix
	startAfter := ""
	if opts.StartAfter != "" {
		startAfter = base + opts.StartAfter
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := s.client.ListObjects(lctx, bucket, mgo.ListObjectsOptions{
		Prefix: prefix, StartAfter: startAfter, Recursive: true, MaxKeys: min(limit+1, 1000),
	})
	page := agents.ObjectPage{Objects: []agents.ObjectInfo{}}
	more := false
	for oi := range ch {
		if oi.Err != nil {
			cancel()
			for range ch { // let the lister goroutine finish
			}
			if isNoBucket(oi.Err) {
				return agents.ObjectPage{Objects: []agents.ObjectInfo{}}, nil
			}
			return agents.ObjectPage{}, fmt.Errorf("minio: list %s/%s: %w", customer, opts.Prefix, oi.Err)
		}
		if len(page.Objects) == limit {
			more = true
			cancel()
			for range ch {
			}
			break
		}
		page.Objects = append(page.Objects, info(s.strip(customer, oi.Key), oi))
	}
	if more {
		page.Next = page.Objects[len(page.Objects)-1].Key
	}
	return page, nil
}

// Stat implements agents.ObjectStore.
func (s *Store) Stat(ctx context.Context, customer, key string) (agents.ObjectInfo, error) {
	bucket, object, err := s.loc(customer, key)
	if err != nil {
		return agents.ObjectInfo{}, err
	}
	oi, err := s.client.StatObject(ctx, bucket, object, mgo.StatObjectOptions{})
	if err != nil {
		if isNotFound(err) {
			return agents.ObjectInfo{}, fmt.Errorf("minio: stat %s/%s: %w", customer, key, agents.ErrNotFound)
		}
		return agents.ObjectInfo{}, fmt.Errorf("minio: stat %s/%s: %w", customer, key, err)
	}
	return info(key, oi), nil
}

// Get implements agents.ObjectStore.
func (s *Store) Get(ctx context.Context, customer, key string) (io.ReadCloser, agents.ObjectInfo, error) {
	bucket, object, err := s.loc(customer, key)
	if err != nil {
		return nil, agents.ObjectInfo{}, err
	}
	obj, err := s.client.GetObject(ctx, bucket, object, mgo.GetObjectOptions{})
	if err != nil {
		return nil, agents.ObjectInfo{}, fmt.Errorf("minio: get %s/%s: %w", customer, key, err)
	}
	// GetObject is lazy; Stat sends the request and surfaces NoSuchKey.
	oi, err := obj.Stat()
	if err != nil {
		obj.Close()
		if isNotFound(err) {
			return nil, agents.ObjectInfo{}, fmt.Errorf("minio: get %s/%s: %w", customer, key, agents.ErrNotFound)
		}
		return nil, agents.ObjectInfo{}, fmt.Errorf("minio: get %s/%s: %w", customer, key, err)
	}
	return obj, info(key, oi), nil
}

// Put implements agents.ObjectStore. S3 replaces an object atomically.
func (s *Store) Put(ctx context.Context, customer, key string, r io.Reader, size int64) (agents.ObjectInfo, error) {
	bucket, object, err := s.loc(customer, key)
	if err != nil {
		return agents.ObjectInfo{}, err
	}
	if err := s.ensureBucket(ctx, bucket); err != nil {
		return agents.ObjectInfo{}, fmt.Errorf("minio: put %s/%s: %w", customer, key, err)
	}
	if size < 0 {
		body, n, cleanup, err := s.spool(r)
		if err != nil {
			return agents.ObjectInfo{}, fmt.Errorf("minio: put %s/%s: read body: %w", customer, key, err)
		}
		defer cleanup()
		r, size = body, n
	}
	up, err := s.client.PutObject(ctx, bucket, object, r, size, mgo.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return agents.ObjectInfo{}, fmt.Errorf("minio: put %s/%s: %w", customer, key, err)
	}
	// The PUT response carries the ETag but no modification time; a HEAD
	// returns what Stat and List will report.
	oi, err := s.client.StatObject(ctx, bucket, object, mgo.StatObjectOptions{})
	if err != nil {
		return agents.ObjectInfo{}, fmt.Errorf("minio: put %s/%s: stat after put: %w", customer, key, err)
	}
	if oi.ETag != up.ETag {
		s.log.Debug("object replaced concurrently", "customer", customer, "key", key)
	}
	return info(key, oi), nil
}

// spool makes an unknown-length body sized: in memory up to MemSpool bytes,
// else in a temp file removed by cleanup.
func (s *Store) spool(r io.Reader) (io.Reader, int64, func(), error) {
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, s.cfg.MemSpool+1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, nil, err
	}
	if n <= s.cfg.MemSpool {
		return bytes.NewReader(buf.Bytes()), n, func() {}, nil
	}
	f, err := os.CreateTemp(s.cfg.SpoolDir, "vdc-upload-*")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	total, err := io.Copy(f, io.MultiReader(&buf, r))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return f, total, cleanup, nil
}

func (s *Store) ensureBucket(ctx context.Context, bucket string) error {
	if _, ok := s.made.Load(bucket); ok {
		return nil
	}
	err := s.client.MakeBucket(ctx, bucket, mgo.MakeBucketOptions{Region: s.cfg.Region})
	if err != nil {
		code := mgo.ToErrorResponse(err).Code
		if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
		if code == "BucketAlreadyExists" {
			// Owned by another account: refuse rather than write into it.
			if ok, herr := s.client.BucketExists(ctx, bucket); herr != nil || !ok {
				return fmt.Errorf("bucket %s exists and is not ours: %w", bucket, err)
			}
		}
	} else {
		s.log.Info("bucket created", "bucket", bucket)
	}
	s.made.Store(bucket, true)
	return nil
}

// Delete implements agents.ObjectStore.
func (s *Store) Delete(ctx context.Context, customer, key string) error {
	bucket, object, err := s.loc(customer, key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, bucket, object, mgo.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("minio: delete %s/%s: %w", customer, key, err)
	}
	return nil
}

// Health lists the buckets: it needs the server up and the credentials
// valid (MinIO's /minio/health/live checks only the former).
func (s *Store) Health(ctx context.Context) error {
	if _, err := s.client.ListBuckets(ctx); err != nil {
		return fmt.Errorf("minio: health check: %w", err)
	}
	return nil
}
