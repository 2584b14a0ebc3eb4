package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/schema"
)

// repoFlags select the customer files: a working tree or a git commit.
type repoFlags struct {
	repo, ref, path, cache string
	sshKey                 string
}

func (f *repoFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.repo, "repo", ".", "repository: a local path or a remote URL (file://, git://, https://, ssh://)")
	cmd.Flags().StringVar(&f.ref, "ref", "", "branch, tag or commit to read (default: the working tree of a local path, the default branch of a remote)")
	cmd.Flags().StringVar(&f.path, "path", "customers", "directory of customer files inside the repository")
	cmd.Flags().StringVar(&f.cache, "cache", "", "cache directory for remote clones (default: the user cache dir)")
	cmd.Flags().StringVar(&f.sshKey, "ssh-key", "", "private key file for ssh remotes")
}

// source describes where customers were read from, for output.
type source struct {
	Repo   string `json:"repo"`
	Ref    string `json:"ref,omitempty"`
	Commit string `json:"commit,omitempty"`
	Path   string `json:"path"`
}

// readFiles returns the customer files the flags select.
func (f *repoFlags) readFiles(ctx context.Context, e *env) ([]schema.File, source, error) {
	src := source{Repo: gitsource.Redact(f.repo), Ref: f.ref, Path: f.path}
	if !gitsource.IsRemote(f.repo) && f.ref == "" {
		files, err := schema.ReadDir(filepath.Join(f.repo, filepath.FromSlash(f.path)), f.path)
		return files, src, err
	}
	cache := f.cache
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cache = filepath.Join(base, "agentvdc", "git")
	}
	repo, _, err := gitsource.Open(ctx, gitsource.Options{
		URL: f.repo, CacheDir: cache, Token: e.getenv("VDC_GIT_TOKEN"), SSHKeyFile: f.sshKey,
	})
	if err != nil {
		return nil, src, err
	}
	commit, err := repo.Resolve(f.ref)
	if err != nil {
		return nil, src, err
	}
	src.Commit = commit.Hash.String()
	files, err := repo.Files(commit, f.path)
	return files, src, err
}

func newValidateCmd(e *env) *cobra.Command {
	var rf repoFlags
	var format string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validate the customer files of a working tree or a git commit",
		Long: `Validate checks every customer file against the schema and reports all
problems at once, each with file, line, column, field and a hint.

A local --repo without --ref is read from its working tree, so uncommitted
edits are checked; a remote URL or --ref is read from the git commit.

Exit codes: 0 all files valid, 1 invalid files or an unreadable repository,
2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" && format != "github" {
				return withCode(ExitUsage, fmt.Errorf("--format must be text, json or github, not %q", format))
			}
			loader, err := schema.NewLoader()
			if err != nil {
				return err
			}
			files, src, err := rf.readFiles(cmd.Context(), e)
			if err != nil {
				return err
			}
			res := loader.Load(files)
			if err := writeValidation(e.stdout, format, src, res); err != nil {
				return err
			}
			if !res.OK() {
				return withCode(ExitFailure, nil)
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "output: text, json, or github (workflow annotations)")
	return cmd
}

// ValidationFormatVersion is the version of `vdc validate --format json`.
const ValidationFormatVersion = "1.0"

func writeValidation(w io.Writer, format string, src source, res *schema.Result) error {
	switch format {
	case "json":
		names := make([]string, len(res.Customers))
		for i, c := range res.Customers {
			names[i] = c.Name
		}
		diags := res.Diagnostics
		if diags == nil {
			diags = []schema.Diagnostic{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			FormatVersion string              `json:"format_version"`
			Valid         bool                `json:"valid"`
			Source        source              `json:"source"`
			Files         int                 `json:"files"`
			Customers     []string            `json:"customers"`
			Diagnostics   []schema.Diagnostic `json:"diagnostics"`
		}{ValidationFormatVersion, res.OK(), src, res.Files, names, diags})
	case "github":
		for _, d := range res.Diagnostics {
			title := "invalid customer file"
			if d.Field != "" {
				title = d.Field
			}
			msg := d.Message
			if d.Hint != "" {
				msg += " (hint: " + d.Hint + ")"
			}
			fmt.Fprintf(w, "::error file=%s,line=%d,col=%d,title=%s::%s\n",
				ghProperty(d.File), d.Line, d.Column, ghProperty(title), ghData(msg))
		}
		fmt.Fprintln(w, summary(src, res))
		return nil
	default:
		for _, d := range res.Diagnostics {
			fmt.Fprintln(w, d.String())
		}
		fmt.Fprintln(w, summary(src, res))
		return nil
	}
}

func summary(src source, res *schema.Result) string {
	where := src.Path
	if src.Commit != "" {
		where += " at " + src.Commit[:12]
	}
	if res.OK() {
		return fmt.Sprintf("%s: %d customers valid", where, len(res.Customers))
	}
	files := map[string]bool{}
	for _, d := range res.Diagnostics {
		files[d.File] = true
	}
	return fmt.Sprintf("%s: %d problems in %d of %d files", where, len(res.Diagnostics), len(files), res.Files)
}

// GitHub workflow commands escape data and property values differently.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func newSchemaCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the CUE schema of customer files",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := io.WriteString(e.stdout, schema.CUESource())
			return err
		},
	}
}

func newNewCmd(e *env) *cobra.Command {
	var o schema.NewFileOptions
	var dir string
	var stdout bool
	cmd := &cobra.Command{
		Use:   "new NAME --tier TIER",
		Short: "Write a new, valid, commented customer file with the tier's defaults",
		Long: `New writes DIR/NAME.yaml with every default of the tier spelled out and
commented, ready to edit. It refuses to overwrite an existing file.

Exit codes: 0 written, 1 invalid values or the file exists, 2 usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if o.Tier == "" {
				return withCode(ExitUsage, errors.New("--tier is required (casual, pro or enterprise)"))
			}
			loader, err := schema.NewLoader()
			if err != nil {
				return err
			}
			data, err := loader.NewFile(o)
			if err != nil {
				return err
			}
			if stdout {
				_, err := e.stdout.Write(data)
				return err
			}
			target := filepath.Join(dir, o.Name+".yaml")
			fh, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s already exists; edit it instead", target)
			}
			if err != nil {
				return err
			}
			if _, err := fh.Write(data); err != nil {
				fh.Close()
				os.Remove(target)
				return err
			}
			if err := fh.Close(); err != nil {
				os.Remove(target)
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s\n", target)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Tier, "tier", "", "casual, pro or enterprise (required)")
	cmd.Flags().StringVar(&o.Region, "region", "fsn1", "region (fsn1, nbg1, hel1)")
	cmd.Flags().StringVar(&o.DisplayName, "display-name", "", "display name (default: NAME)")
	cmd.Flags().StringVar(&o.Owner, "owner", "", "owner email")
	cmd.Flags().StringVar(&dir, "dir", "customers", "directory to write into")
	cmd.Flags().BoolVar(&stdout, "stdout", false, "print the file instead of writing it")
	return cmd
}
