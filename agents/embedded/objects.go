package embedded

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agentvdc/agentvdc/agents"
)

// Dir is the embedded ObjectStore: ROOT/CUSTOMER/objects is the customer's
// dump folder. Files dropped into it directly (not through Put) are listed
// too; their ETag is a weak one derived from size and mtime ("w-…") until
// they are rewritten through Put, which records the content MD5 (as S3 does
// for single-part uploads).
type Dir struct {
	root string
}

var _ agents.ObjectStore = (*Dir)(nil)

const (
	objectsDir = "objects"
	tmpDir     = "tmp"
	metaDir    = "objmeta"
)

// NewDir returns the object store rooted at root (DATA/agents). The
// directory is created on first Put.
func NewDir(root string) *Dir { return &Dir{root: root} }

// ObjectsPath returns the customer's dump folder on disk.
func (d *Dir) ObjectsPath(customer string) (string, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return "", err
	}
	return filepath.Join(d.root, customer, objectsDir), nil
}

// openRoot opens the customer's directory as an os.Root; create makes it.
func (d *Dir) openRoot(customer string, create bool) (*os.Root, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return nil, err
	}
	dir := filepath.Join(d.root, customer)
	if create {
		for _, sub := range []string{objectsDir, tmpDir, metaDir} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
				return nil, fmt.Errorf("create customer dir: %w", err)
			}
		}
		// Dumps made before the folders became private were 0750: the
		// customer's own folder closed is everything below it closed.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("make customer dir private: %w", err)
		}
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("customer %s: %w", customer, agents.ErrNotFound)
		}
		return nil, fmt.Errorf("open customer dir: %w", err)
	}
	return r, nil
}

type objMeta struct {
	ETag    string `json:"etag"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
}

func metaName(key string) string {
	h := sha256.Sum256([]byte(key))
	return path.Join(metaDir, hex.EncodeToString(h[:]))
}

func (d *Dir) info(r *os.Root, key string, fi fs.FileInfo) agents.ObjectInfo {
	mt := fi.ModTime().UTC()
	oi := agents.ObjectInfo{Key: key, Size: fi.Size(), ModTime: mt,
		ETag: fmt.Sprintf("w-%x-%x", fi.Size(), mt.UnixNano())}
	if b, err := r.ReadFile(metaName(key)); err == nil {
		var m objMeta
		if json.Unmarshal(b, &m) == nil && m.Size == fi.Size() && m.ModTime == mt.UnixNano() && m.ETag != "" {
			oi.ETag = m.ETag
		}
	}
	return oi
}

func (d *Dir) stat(customer, key string) (*os.Root, agents.ObjectInfo, error) {
	if err := agents.ValidateKey(key); err != nil {
		return nil, agents.ObjectInfo{}, err
	}
	r, err := d.openRoot(customer, false)
	if err != nil {
		return nil, agents.ObjectInfo{}, err
	}
	fi, err := r.Stat(path.Join(objectsDir, key))
	if err != nil || !fi.Mode().IsRegular() {
		r.Close()
		if err == nil || errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return nil, agents.ObjectInfo{}, fmt.Errorf("object %q: %w", key, agents.ErrNotFound)
		}
		return nil, agents.ObjectInfo{}, fmt.Errorf("stat object %q: %w", key, err)
	}
	return r, d.info(r, key, fi), nil
}

func isNotDir(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

// Stat implements agents.ObjectStore.
func (d *Dir) Stat(ctx context.Context, customer, key string) (agents.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return agents.ObjectInfo{}, err
	}
	r, oi, err := d.stat(customer, key)
	if err != nil {
		return oi, err
	}
	r.Close()
	return oi, nil
}

// Get implements agents.ObjectStore.
func (d *Dir) Get(ctx context.Context, customer, key string) (io.ReadCloser, agents.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, agents.ObjectInfo{}, err
	}
	r, oi, err := d.stat(customer, key)
	if err != nil {
		return nil, oi, err
	}
	defer r.Close()
	f, err := r.Open(path.Join(objectsDir, key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, oi, fmt.Errorf("object %q: %w", key, agents.ErrNotFound)
		}
		return nil, oi, fmt.Errorf("open object %q: %w", key, err)
	}
	return f, oi, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put implements agents.ObjectStore: the content goes to a temporary file
// that is renamed over the key, so readers never see a partial object.
func (d *Dir) Put(ctx context.Context, customer, key string, src io.Reader, size int64) (agents.ObjectInfo, error) {
	if err := agents.ValidateKey(key); err != nil {
		return agents.ObjectInfo{}, err
	}
	r, err := d.openRoot(customer, true)
	if err != nil {
		return agents.ObjectInfo{}, err
	}
	defer r.Close()
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(tmpDir, "put-"+hex.EncodeToString(rnd[:]))
	f, err := r.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return agents.ObjectInfo{}, fmt.Errorf("create temp object: %w", err)
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, src})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("%w: read %d bytes, size says %d", agents.ErrInvalidArgument, n, size)
	}
	if err != nil {
		_ = r.Remove(tmp)
		return agents.ObjectInfo{}, fmt.Errorf("write object %q: %w", key, err)
	}
	dst := path.Join(objectsDir, key)
	if dir := path.Dir(dst); dir != objectsDir {
		if err := r.MkdirAll(dir, 0o700); err != nil {
			_ = r.Remove(tmp)
			return agents.ObjectInfo{}, fmt.Errorf("%w: key %q conflicts with an existing object: %v", agents.ErrInvalidKey, key, err)
		}
	}
	if err := r.Rename(tmp, dst); err != nil {
		_ = r.Remove(tmp)
		return agents.ObjectInfo{}, fmt.Errorf("store object %q: %w", key, err)
	}
	fi, err := r.Stat(dst)
	if err != nil {
		return agents.ObjectInfo{}, fmt.Errorf("stat stored object: %w", err)
	}
	m := objMeta{ETag: hex.EncodeToString(h.Sum(nil)), Size: fi.Size(), ModTime: fi.ModTime().UTC().UnixNano()}
	b, _ := json.Marshal(m)
	if err := r.WriteFile(metaName(key), b, 0o600); err != nil {
		return agents.ObjectInfo{}, fmt.Errorf("record etag: %w", err)
	}
	return agents.ObjectInfo{Key: key, ETag: m.ETag, Size: m.Size, ModTime: fi.ModTime().UTC()}, nil
}

// Delete implements agents.ObjectStore.
func (d *Dir) Delete(ctx context.Context, customer, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := agents.ValidateKey(key); err != nil {
		return err
	}
	r, err := d.openRoot(customer, false)
	if err != nil {
		if errors.Is(err, agents.ErrNotFound) {
			return nil
		}
		return err
	}
	defer r.Close()
	if fi, err := r.Lstat(path.Join(objectsDir, key)); err != nil || fi.IsDir() {
		return nil
	}
	if err := r.Remove(path.Join(objectsDir, key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete object %q: %w", key, err)
	}
	_ = r.Remove(metaName(key))
	return nil
}

// List implements agents.ObjectStore. It walks the dump folder, so its cost
// grows with the number of files; keys are sorted in S3 byte order.
func (d *Dir) List(ctx context.Context, customer string, opts agents.ListOptions) (agents.ObjectPage, error) {
	r, err := d.openRoot(customer, false)
	if err != nil {
		if errors.Is(err, agents.ErrNotFound) {
			return agents.ObjectPage{}, nil
		}
		return agents.ObjectPage{}, err
	}
	defer r.Close()
	limit := opts.Limit
	if limit <= 0 {
		limit = agents.DefaultListLimit
	}
	type entry struct {
		key string
		fi  fs.FileInfo
	}
	var all []entry
	fsys := r.FS()
	start := objectsDir
	// Walk only the deepest directory the prefix names.
	if i := strings.LastIndex(opts.Prefix, "/"); i > 0 && agents.ValidateKey(opts.Prefix[:i]) == nil {
		start = path.Join(objectsDir, opts.Prefix[:i])
	}
	err = fs.WalkDir(fsys, start, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if !de.Type().IsRegular() {
			return nil
		}
		key := strings.TrimPrefix(p, objectsDir+"/")
		if !strings.HasPrefix(key, opts.Prefix) || key <= opts.StartAfter || agents.ValidateKey(key) != nil {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return nil // vanished meanwhile
		}
		all = append(all, entry{key, fi})
		return nil
	})
	if err != nil {
		return agents.ObjectPage{}, fmt.Errorf("list objects: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].key < all[j].key })
	var page agents.ObjectPage
	for i, e := range all {
		if i == limit {
			page.Next = page.Objects[len(page.Objects)-1].Key
			break
		}
		page.Objects = append(page.Objects, d.info(r, e.key, e.fi))
	}
	return page, nil
}
