package gitsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/agentvdc/agentvdc/schema"
)

// Errors of Resolve and Files callers may show without the repository's
// name (errors.Is holds for the error they return).
var (
	// ErrRefNotFound: the ref is not a branch, tag or commit.
	ErrRefNotFound = errors.New("ref not found")
	// ErrNoDirectory: the commit has no such directory.
	ErrNoDirectory = errors.New("no directory")
)

// Options say where the repository is and how to reach it.
type Options struct {
	// URL is a local path, or a file://, git://, http(s)://, ssh:// or
	// scp-like (git@host:org/repo.git) remote.
	URL string
	// CacheDir holds bare clones of remotes (one directory per remote).
	CacheDir string
	// Token authenticates https remotes (sent as basic auth password).
	Token string
	// SSHKeyFile and SSHKeyPassphrase authenticate ssh remotes.
	SSHKeyFile       string
	SSHKeyPassphrase string
	// SSHInsecureIgnoreHostKey skips host key checks (tests only).
	SSHInsecureIgnoreHostKey bool
}

// Repo is an opened repository: a local one, or the cache of a remote.
//
// A Repo is safe for concurrent use. Fetches are serialised and callers
// that arrive while one runs share the next one; reads (Resolve, Files)
// wait while a fetch rewrites the cache's ref files, so they never see a
// half-written ref ("ref file is empty").
type Repo struct {
	repo   *git.Repository
	remote bool
	name   string // the URL without credentials, for messages
	auth   transport.AuthMethod

	// mu: Fetch holds it exclusively, the readers shared.
	mu sync.RWMutex
	// started counts fetches begun; lastSeq is the number of the last
	// one finished (under mu), lastRes and lastErr its outcome.
	started atomic.Uint64
	lastSeq uint64
	lastRes *FetchResult
	lastErr error
}

const remoteName = "origin"

var scpLikeRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:`)

// IsRemote reports whether u names a remote rather than a local path.
func IsRemote(u string) bool {
	return strings.Contains(u, "://") || scpLikeRE.MatchString(u)
}

// Redact removes credentials from a URL for messages.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	if _, has := p.User.Password(); has {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	return p.String()
}

// Open opens a local repository, or creates/opens the cache of a remote one
// and fetches it.
func Open(ctx context.Context, o Options) (*Repo, *FetchResult, error) {
	if !IsRemote(o.URL) {
		r, err := git.PlainOpenWithOptions(o.URL, &git.PlainOpenOptions{DetectDotGit: true})
		if err != nil {
			return nil, nil, fmt.Errorf("open repository %s: %w", o.URL, err)
		}
		return &Repo{repo: r, name: o.URL}, nil, nil
	}
	cleanURL, auth, err := authFor(o)
	if err != nil {
		return nil, nil, err
	}
	name := Redact(cleanURL)
	if o.CacheDir == "" {
		return nil, nil, fmt.Errorf("remote %s: a cache directory is needed for remote repositories", name)
	}
	sum := sha256.Sum256([]byte(cleanURL))
	dir := filepath.Join(o.CacheDir, hex.EncodeToString(sum[:8])+".git")
	r, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("remote %s: cache directory: %w", name, err)
		}
		r, err = git.PlainInit(dir, true)
		if err == nil {
			_, err = r.CreateRemote(&config.RemoteConfig{
				Name: remoteName,
				URLs: []string{cleanURL},
				Fetch: []config.RefSpec{
					"+refs/heads/*:refs/remotes/origin/*",
					"+refs/tags/*:refs/tags/*",
				},
			})
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("remote %s: open cache %s: %w", name, dir, err)
	}
	repo := &Repo{repo: r, remote: true, name: name, auth: auth}
	res, err := repo.Fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	return repo, res, nil
}

// authFor moves credentials out of the URL and builds the auth method.
func authFor(o Options) (string, transport.AuthMethod, error) {
	u := o.URL
	switch {
	case strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"):
		p, err := url.Parse(u)
		if err != nil {
			return "", nil, fmt.Errorf("remote %s: %w", Redact(u), err)
		}
		user, token := "git", o.Token
		if p.User != nil {
			if pw, ok := p.User.Password(); ok && token == "" {
				user, token = p.User.Username(), pw
			} else if token == "" {
				token = p.User.Username()
			}
			p.User = nil
		}
		if token == "" {
			return p.String(), nil, nil
		}
		return p.String(), &githttp.BasicAuth{Username: user, Password: token}, nil
	case strings.HasPrefix(u, "ssh://") || scpLikeRE.MatchString(u):
		if o.SSHKeyFile == "" {
			return u, nil, nil
		}
		user := "git"
		if p, err := url.Parse(u); err == nil && p.User != nil {
			user = p.User.Username()
		} else if i := strings.IndexByte(u, '@'); i > 0 && !strings.Contains(u, "://") {
			user = u[:i]
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, o.SSHKeyFile, o.SSHKeyPassphrase)
		if err != nil {
			// The key file's path is not secret; its content and passphrase are.
			return "", nil, fmt.Errorf("remote %s: ssh key %s: cannot load it (wrong passphrase or not a private key)", Redact(u), o.SSHKeyFile)
		}
		if o.SSHInsecureIgnoreHostKey {
			keys.HostKeyCallback = insecureHostKey()
		}
		return u, keys, nil
	}
	return u, nil, nil
}

// RefUpdate is one ref changed by a fetch.
type RefUpdate struct {
	Ref      string
	Old, New plumbing.Hash
	// Forced is set when Old is not an ancestor of New: history was rewritten.
	Forced bool
}

// FetchResult says what a fetch changed.
type FetchResult struct {
	UpToDate bool
	Updates  []RefUpdate
}

// Forced returns the updates that rewrote history.
func (f *FetchResult) Forced() []RefUpdate {
	var out []RefUpdate
	if f == nil {
		return nil
	}
	for _, u := range f.Updates {
		if u.Forced {
			out = append(out, u)
		}
	}
	return out
}

// Name is the repository's URL or path, without credentials.
func (r *Repo) Name() string { return r.name }

// Fetch brings the remote's branches and tags into the cache. Only missing
// objects are transferred; with nothing new, nothing is. It is a no-op for a
// local repository.
func (r *Repo) Fetch(ctx context.Context) (*FetchResult, error) {
	if !r.remote {
		return &FetchResult{UpToDate: true}, nil
	}
	// A fetch that begins after we arrived brings at least what ours
	// would: concurrent callers share it instead of queueing their own.
	arrived := r.started.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastSeq > arrived {
		return r.lastRes, r.lastErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", r.name, err)
	}
	seq := r.started.Add(1)
	res, err := r.fetchLocked(ctx)
	if err != nil && ctx.Err() != nil {
		// Our caller gave up: do not hand its cancellation to others.
		return res, err
	}
	r.lastSeq, r.lastRes, r.lastErr = seq, res, err
	return res, err
}

func (r *Repo) fetchLocked(ctx context.Context) (*FetchResult, error) {
	before := r.refs()
	err := r.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: remoteName, Auth: r.auth, Force: true, Tags: git.AllTags})
	res := &FetchResult{}
	switch {
	case errors.Is(err, git.NoErrAlreadyUpToDate):
		res.UpToDate = true
		return res, nil
	case err != nil:
		return nil, fmt.Errorf("fetch %s: %w", r.name, scrub(err))
	}
	for ref, newH := range r.refs() {
		oldH, had := before[ref]
		if had && oldH == newH {
			continue
		}
		u := RefUpdate{Ref: ref, Old: oldH, New: newH}
		if had {
			u.Forced = !r.isAncestor(oldH, newH)
		}
		res.Updates = append(res.Updates, u)
	}
	res.UpToDate = len(res.Updates) == 0
	return res, nil
}

func (r *Repo) refs() map[string]plumbing.Hash {
	out := map[string]plumbing.Hash{}
	iter, err := r.repo.References()
	if err != nil {
		return out
	}
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			out[ref.Name().String()] = ref.Hash()
		}
		return nil
	})
	return out
}

func (r *Repo) isAncestor(oldH, newH plumbing.Hash) bool {
	oldC, err := r.repo.CommitObject(oldH)
	if err != nil {
		return false
	}
	newC, err := r.repo.CommitObject(newH)
	if err != nil {
		return false
	}
	ok, err := oldC.IsAncestor(newC)
	return err == nil && ok
}

// scrub drops anything that looks like URL credentials from an error text.
func scrub(err error) error {
	return &scrubbed{err: err, msg: credRE.ReplaceAllString(err.Error(), "$1xxxxx@")}
}

var credRE = regexp.MustCompile(`(://[^/:@\s]*:)[^@\s/]+@`)

type scrubbed struct {
	err error
	msg string
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// Commit is a resolved commit.
type Commit struct {
	Hash    plumbing.Hash
	Ref     string
	Message string
	commit  *object.Commit
}

// Resolve turns a branch, tag, full or abbreviated hash, or "" (the default
// branch) into a commit.
func (r *Repo) Resolve(ref string) (*Commit, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	candidates := []string{}
	switch {
	case ref == "" || ref == "HEAD":
		if r.remote {
			candidates = append(candidates, r.defaultRemoteBranch()...)
		} else {
			candidates = append(candidates, "HEAD")
		}
	default:
		if r.remote {
			candidates = append(candidates, "refs/remotes/origin/"+strings.TrimPrefix(ref, "refs/heads/"))
		}
		candidates = append(candidates, ref, "refs/heads/"+ref, "refs/tags/"+ref)
	}
	for _, c := range candidates {
		h, err := r.repo.ResolveRevision(plumbing.Revision(c))
		if err != nil {
			continue
		}
		commit, err := r.repo.CommitObject(*h)
		if err != nil {
			// An annotated tag resolves to the tag object; peel it.
			if tag, terr := r.repo.TagObject(*h); terr == nil {
				commit, err = tag.Commit()
			}
		}
		if err != nil {
			continue
		}
		return &Commit{Hash: commit.Hash, Ref: refOrDefault(ref), Message: strings.TrimSpace(commit.Message), commit: commit}, nil
	}
	return nil, &kindError{kind: ErrRefNotFound, msg: fmt.Sprintf("repository %s: ref %q not found (not a branch, tag or commit)", r.name, refOrDefault(ref))}
}

// kindError is an error message that matches one of the sentinels.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func refOrDefault(ref string) string {
	if ref == "" {
		return "HEAD"
	}
	return ref
}

// HeadBranch is the branch "HEAD" (and "") resolves to: the checked-out
// branch of a local repository; for a remote, origin/HEAD if the cache has
// it, else main or master, whichever Resolve would take. A detached HEAD,
// or a remote with none of these, is an error saying so.
func (r *Repo) HeadBranch() (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.remote {
		head, err := r.repo.Reference(plumbing.HEAD, false)
		if err != nil {
			return "", fmt.Errorf("repository %s: read HEAD: %w", r.name, err)
		}
		if head.Type() != plumbing.SymbolicReference || !head.Target().IsBranch() {
			return "", fmt.Errorf("repository %s: HEAD is detached (it names a commit, not a branch)", r.name)
		}
		return head.Target().Short(), nil
	}
	const prefix = "refs/remotes/" + remoteName + "/"
	for _, c := range r.defaultRemoteBranch() {
		ref, err := r.repo.Reference(plumbing.ReferenceName(c), false)
		if err != nil {
			continue
		}
		name := ref.Name().String()
		if ref.Type() == plumbing.SymbolicReference {
			name = ref.Target().String()
		}
		if b, ok := strings.CutPrefix(name, prefix); ok && b != "HEAD" {
			return b, nil
		}
	}
	return "", fmt.Errorf("repository %s: cannot tell its default branch (no origin/HEAD, main or master)", r.name)
}

// defaultRemoteBranch guesses the remote's default branch from the cache.
func (r *Repo) defaultRemoteBranch() []string {
	out := []string{"refs/remotes/origin/HEAD"}
	for _, b := range []string{"main", "master"} {
		out = append(out, "refs/remotes/origin/"+b)
	}
	return out
}

// Files reads the entries directly under dir in the commit's tree, without
// a working tree. Symbolic links and sub-directories are reported, not
// followed; blobs over schema.MaxFileSize are not read.
func (r *Repo) Files(c *Commit, dir string) ([]schema.File, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	tree, err := c.commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("repository %s: ref %s: tree: %w", r.name, c.Ref, err)
	}
	dir = strings.Trim(path.Clean("/"+dir), "/")
	if dir != "" {
		tree, err = tree.Tree(dir)
		if err != nil {
			return nil, fmt.Errorf("repository %s: ref %s (%s): %w %q: %w", r.name, c.Ref, c.Hash.String()[:12], ErrNoDirectory, dir, err)
		}
	}
	files := make([]schema.File, 0, len(tree.Entries))
	for _, e := range tree.Entries {
		f := schema.File{Path: path.Join(dir, e.Name)}
		switch e.Mode {
		case filemode.Symlink:
			f.Symlink = true
		case filemode.Dir, filemode.Submodule:
			f.Dir = true
		default:
			blob, err := r.repo.BlobObject(e.Hash)
			if err != nil {
				return nil, fmt.Errorf("repository %s: ref %s: %s: %w", r.name, c.Ref, f.Path, err)
			}
			f.Size = blob.Size
			if blob.Size <= schema.MaxFileSize {
				rd, err := blob.Reader()
				if err != nil {
					return nil, fmt.Errorf("repository %s: ref %s: %s: %w", r.name, c.Ref, f.Path, err)
				}
				f.Data, err = io.ReadAll(io.LimitReader(rd, schema.MaxFileSize+1))
				rd.Close()
				if err != nil {
					return nil, fmt.Errorf("repository %s: ref %s: %s: %w", r.name, c.Ref, f.Path, err)
				}
			}
		}
		files = append(files, f)
	}
	return files, nil
}

// ObjectCount returns the number of objects in the repository's storage;
// tests use it to prove fetches are incremental.
func (r *Repo) ObjectCount() (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	iter, err := r.repo.Storer.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		return 0, err
	}
	n := 0
	err = iter.ForEach(func(plumbing.EncodedObject) error { n++; return nil })
	return n, err
}
