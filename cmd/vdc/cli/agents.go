package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embed"
	"github.com/agentvdc/agentvdc/agents/embedded"
	"github.com/agentvdc/agentvdc/agents/extract"
	"github.com/agentvdc/agentvdc/agents/llm"
)

// agentsFlags are shared by the data-agent commands.
type agentsFlags struct {
	data string
}

func (f *agentsFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.data, "data", ".vdc", "data directory (as vdc serve --data); the embedded stores live under DIR/agents/CUSTOMER")
}

// openAgents validates the customer and opens the embedded stores. The
// dense embedder is configured by VDC_EMBEDDINGS_URL and
// VDC_EMBEDDINGS_MODEL (and VDC_EMBEDDINGS_KEY), all optional.
func openAgents(e *env, f *agentsFlags, customer string) (*embedded.Stores, *agents.Deps, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return nil, nil, err
	}
	s := embedded.Open(f.data)
	d := s.Deps(slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if url := e.getenv("VDC_EMBEDDINGS_URL"); url != "" {
		model := e.getenv("VDC_EMBEDDINGS_MODEL")
		if model == "" {
			s.Close()
			return nil, nil, errors.New("VDC_EMBEDDINGS_URL is set but VDC_EMBEDDINGS_MODEL is not")
		}
		d.Dense = &embed.Client{BaseURL: url, Model: model, APIKey: e.getenv("VDC_EMBEDDINGS_KEY")}
	}
	return s, d, nil
}

// chatFromEnv configures the relationship agent's optional chat model from
// VDC_CHAT_URL and VDC_CHAT_MODEL (and VDC_CHAT_KEY); nil when unset.
func chatFromEnv(e *env) (agents.ChatExtractor, error) {
	url := e.getenv("VDC_CHAT_URL")
	if url == "" {
		return nil, nil
	}
	model := e.getenv("VDC_CHAT_MODEL")
	if model == "" {
		return nil, errors.New("VDC_CHAT_URL is set but VDC_CHAT_MODEL is not")
	}
	return &llm.Client{BaseURL: url, Model: model, APIKey: e.getenv("VDC_CHAT_KEY")}, nil
}

func newUploadCmd(e *env) *cobra.Command {
	var f agentsFlags
	var prefix string
	c := &cobra.Command{
		Use:   "upload CUSTOMER FILE...",
		Short: "Upload files into a customer's dump folder (the ingest agent picks them up)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := openAgents(e, &f, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			for _, p := range args[1:] {
				key := prefix + filepath.Base(p)
				if err := agents.ValidateKey(key); err != nil {
					return err
				}
				fh, err := os.Open(p)
				if err != nil {
					return err
				}
				info, err := s.Objects.Put(cmd.Context(), args[0], key, fh, -1)
				fh.Close()
				if err != nil {
					return fmt.Errorf("upload %s: %w", p, err)
				}
				fmt.Fprintf(e.stdout, "uploaded %s (%d bytes, etag %s)\n", info.Key, info.Size, info.ETag)
			}
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&prefix, "prefix", "", "key prefix, e.g. \"reports/\"")
	return c
}

func newAgentsCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "agents", Short: "Run a customer's data agents by hand"}
	var f agentsFlags
	var untilDone bool
	var format string
	run := &cobra.Command{
		Use:   "run CUSTOMER ingest|relationship|learning",
		Short: "Run one agent once for a customer",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return withCode(ExitUsage, fmt.Errorf("unknown --format %q (text or json)", format))
			}
			s, d, err := openAgents(e, &f, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			var runner interface {
				Run(context.Context, string) (agents.Report, error)
			}
			switch args[1] {
			case "ingest":
				sb, err := extract.NewSandbox(extract.SandboxConfig{Log: d.Log})
				if err != nil {
					return err
				}
				defer sb.Close()
				d.Extractor = sb
				runner = &agents.Ingest{Deps: d}
			case "relationship":
				chat, err := chatFromEnv(e)
				if err != nil {
					return err
				}
				runner = &agents.Relationship{Deps: d, Chat: chat}
			case "learning":
				runner = &agents.Learning{Deps: d, GapReportPath: s.GapReportPath}
			default:
				return withCode(ExitUsage, fmt.Errorf("unknown agent %q (ingest, relationship or learning)", args[1]))
			}
			for i := 0; ; i++ {
				rep, err := runner.Run(cmd.Context(), args[0])
				if err != nil {
					return fmt.Errorf("%s agent: %w", args[1], err)
				}
				if format == "json" {
					enc := json.NewEncoder(e.stdout)
					if err := enc.Encode(rep); err != nil {
						return err
					}
				} else {
					fmt.Fprintln(e.stdout, rep.String())
					for _, n := range rep.Notes {
						fmt.Fprintln(e.stdout, "  "+n)
					}
				}
				if !untilDone || args[1] != "ingest" || rep.Counts[agents.CountPasses] > 0 || i >= 10000 {
					break
				}
			}
			return nil
		},
	}
	f.register(run)
	run.Flags().BoolVar(&untilDone, "until-done", false, "ingest: repeat runs until a full pass over the dump folder completes")
	run.Flags().StringVar(&format, "format", "text", "output format: text or json")

	var qf agentsFlags
	quar := &cobra.Command{
		Use:   "quarantine CUSTOMER",
		Short: "List the files the ingest agent could not read, with the reason",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := openAgents(e, &qf, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			qs, err := agents.Quarantine(cmd.Context(), s.State, args[0])
			if err != nil {
				return err
			}
			if len(qs) == 0 {
				fmt.Fprintln(e.stdout, "no quarantined files")
			}
			for _, q := range qs {
				fmt.Fprintf(e.stdout, "%s\t%s\t%d bytes\t%s\n", q.Key, q.Reason, q.Size, q.Error)
			}
			return nil
		},
	}
	qf.register(quar)
	c.AddCommand(run, quar)
	return c
}

func newQueryCmd(e *env) *cobra.Command {
	var f agentsFlags
	var k int
	var format string
	c := &cobra.Command{
		Use:   "query CUSTOMER TEXT",
		Short: "Search a customer's data: chunk hits plus graph neighbours, each with its source and why",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return withCode(ExitUsage, fmt.Errorf("unknown --format %q (text or json)", format))
			}
			if k < 1 || k > 1000 {
				return withCode(ExitUsage, fmt.Errorf("--k must be 1..1000, got %d", k))
			}
			s, d, err := openAgents(e, &f, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := (&agents.Searcher{Deps: d}).Query(cmd.Context(), args[0], args[1], k)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			renderQuery(e.stdout, res)
			return nil
		},
	}
	f.register(c)
	c.Flags().IntVar(&k, "k", 10, "number of chunk hits")
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return c
}

func renderQuery(w io.Writer, r agents.QueryResult) {
	fmt.Fprintf(w, "query %q: %d hits (%.1f ms)\n", r.Query, len(r.Hits), r.TookMS)
	if len(r.Expansions) > 0 {
		fmt.Fprintf(w, "expanded: %s\n", strings.Join(r.Expansions, ", "))
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "not in the data: %s\n", strings.Join(r.Missing, ", "))
	}
	for i, h := range r.Hits {
		fmt.Fprintf(w, "\n%2d. %s #%d  score %.3f\n", i+1, h.Document, h.Chunk, h.Score)
		if h.Section != "" {
			fmt.Fprintf(w, "    section: %s\n", h.Section)
		}
		fmt.Fprintf(w, "    %s\n", h.Snippet)
		for _, y := range h.Why {
			fmt.Fprintf(w, "    why: %s\n", y)
		}
	}
	if len(r.Graph) > 0 {
		fmt.Fprintln(w, "\ngraph:")
		for _, g := range r.Graph {
			src := ""
			if g.Document != "" {
				src = "  [" + g.Document + "]"
			}
			fmt.Fprintf(w, "  %s%s\n", g.Why, src)
		}
	}
	if r.Gap {
		fmt.Fprintln(w, "\n(note: a knowledge gap — the best hit covers few of the query terms; the learning agent will look at it)")
	}
}

func newGraphCmd(e *env) *cobra.Command {
	var f agentsFlags
	var depth, limit int
	c := &cobra.Command{
		Use:   "graph CUSTOMER [ENTITY]",
		Short: "Show a customer's knowledge graph: counts and entities, or one entity's neighbourhood",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := openAgents(e, &f, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			ctx := cmd.Context()
			if len(args) == 1 {
				cnt, err := s.Graph.Counts(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "nodes: Document=%d Chunk=%d Entity=%d\n", cnt.Nodes[agents.LabelDocument], cnt.Nodes[agents.LabelChunk], cnt.Nodes[agents.LabelEntity])
				var parts []string
				for _, t := range agents.RelTypes() {
					if cnt.Edges[t] > 0 {
						parts = append(parts, fmt.Sprintf("%s=%d", t, cnt.Edges[t]))
					}
				}
				fmt.Fprintf(e.stdout, "edges: %s\n", strings.Join(parts, " "))
				ns, err := s.Graph.Nodes(ctx, args[0], agents.LabelEntity, "", limit)
				if err != nil {
					return err
				}
				for _, n := range ns {
					fmt.Fprintf(e.stdout, "  %s\t%s\t(%s)\n", n.Key, n.Props["name"], n.Props["kind"])
				}
				return nil
			}
			ref := agents.NodeRef{Label: agents.LabelEntity, Key: agents.CanonicalKey(args[1])}
			node, err := s.Graph.Node(ctx, args[0], ref)
			if errors.Is(err, agents.ErrNotFound) {
				return fmt.Errorf("no entity %q (key %q) in %s's graph", args[1], ref.Key, args[0])
			}
			if err != nil {
				return err
			}
			nbs, err := s.Graph.Neighbours(ctx, args[0], ref, agents.NeighbourOptions{Depth: depth, Limit: limit})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s (%s, key %q): %d neighbours\n", node.Props["name"], node.Props["kind"], node.Key, len(nbs))
			for _, nb := range nbs {
				name := nb.Node.Props["name"]
				if name == "" {
					name = nb.Node.Key
				}
				if nb.Node.Label == agents.LabelChunk {
					name = nb.Node.Props["document"] + " #" + nb.Node.Props["chunk"] + ": " + nb.Node.Props["preview"]
				}
				arrow := "->"
				if nb.Via.To.Key != nb.Node.Key {
					arrow = "<-"
				}
				fmt.Fprintf(e.stdout, "  depth %d  %s %s %s  %s  confidence %.2f, %d observations, evidence %d chunks\n",
					nb.Depth, arrow, nb.Via.Type, nb.Node.Label, name, nb.Via.Confidence, nb.Via.Count, len(nb.Via.Evidence))
			}
			return nil
		},
	}
	f.register(c)
	c.Flags().IntVar(&depth, "depth", 1, "hops to traverse (1-3)")
	c.Flags().IntVar(&limit, "limit", 50, "maximum nodes shown")
	return c
}
