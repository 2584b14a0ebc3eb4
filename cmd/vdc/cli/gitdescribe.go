package cli

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/schema"
)

// checkout is what the local git checkout containing a directory has
// checked out: the commit, the branch (empty when detached) and whether
// the customer files read from its working tree are the commit's.
type checkout struct {
	commit, branch string
	clean          bool
}

// describeCheckout reads .git itself (git worktrees included), running no
// git command; the zero checkout when dir is not in a git repository.
// files are the customer files ReadDir read from dir/rel.
func describeCheckout(dir, rel string, files []schema.File) checkout {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return checkout{}
	}
	head, err := r.Head()
	if err != nil {
		return checkout{}
	}
	c := checkout{commit: head.Hash().String()}
	if head.Name().IsBranch() {
		c.branch = head.Name().Short()
	}
	c.clean = sameFiles(r, head.Hash(), dir, rel, files)
	return c
}

// sameFiles reports whether the commit's tree holds exactly files under
// dir/rel (dir relative to the work tree's root).
func sameFiles(r *git.Repository, h plumbing.Hash, dir, rel string, files []schema.File) bool {
	wt, err := r.Worktree()
	if err != nil {
		return false
	}
	absDir, err1 := filepath.Abs(filepath.Join(dir, filepath.FromSlash(rel)))
	root, err2 := filepath.Abs(wt.Filesystem.Root())
	if err1 != nil || err2 != nil {
		return false
	}
	inRepo, err := filepath.Rel(root, absDir)
	if err != nil || strings.HasPrefix(inRepo, "..") {
		return false
	}
	commit, err := r.CommitObject(h)
	if err != nil {
		return false
	}
	tree, err := commit.Tree()
	if err != nil {
		return false
	}
	if p := path.Clean(filepath.ToSlash(inRepo)); p != "." {
		if tree, err = tree.Tree(p); err != nil {
			return false
		}
	}
	if len(tree.Entries) != len(files) {
		return false
	}
	byName := map[string]schema.File{}
	for _, f := range files {
		byName[path.Base(f.Path)] = f
	}
	for _, e := range tree.Entries {
		f, ok := byName[e.Name]
		switch {
		case !ok, f.Symlink != (e.Mode == filemode.Symlink), f.Dir != (e.Mode == filemode.Dir || e.Mode == filemode.Submodule):
			return false
		case f.Dir || f.Symlink:
		case f.Data == nil && f.Size > 0: // too large to have been read
			return false
		case plumbing.ComputeHash(plumbing.BlobObject, f.Data) != e.Hash:
			return false
		}
	}
	return true
}

// markdownHeader names, for the PR comment's header, the branch of what
// was planned and, for a working tree, the commit under it: the branch
// --ref names, else the local checkout's when it is what was planned,
// else $GITHUB_HEAD_REF (a pull request's branch on GitHub Actions, whose
// checkout is detached).
func (f *repoFlags) markdownHeader(e *env, commit string, files []schema.File) plan.MarkdownOptions {
	var o plan.MarkdownOptions
	o.Branch = plan.BranchOfRef(f.ref)
	if !gitsource.IsRemote(f.repo) {
		co := describeCheckout(f.repo, f.path, files)
		if strings.HasPrefix(commit, "worktree-") {
			o.BaseCommit, o.WorktreeClean = co.commit, co.clean
		}
		if o.Branch == "" && co.commit != "" && (co.commit == commit || o.BaseCommit != "") {
			o.Branch = co.branch
		}
	}
	if o.Branch == "" {
		o.Branch = e.getenv("GITHUB_HEAD_REF")
	}
	return o
}
