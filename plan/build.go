package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/schema"
)

// FormatVersion is the version of the plan's JSON form (docs/plan-json.md).
// Minor versions only add fields.
const FormatVersion = "1.0"

// DefaultMaxDeleteFraction is the mass-deletion breaker's default share.
const DefaultMaxDeleteFraction = 0.2

// Errors Build returns together with a refused plan (errors.Is works).
var (
	// ErrInvalidDesiredState: some customer files are invalid, so nothing
	// is planned.
	ErrInvalidDesiredState = errors.New("desired state is invalid: nothing is planned")
	// ErrMassDeletion: the plan would delete more than the allowed share of
	// customers.
	ErrMassDeletion = errors.New("mass-deletion breaker: plan refused")
	// ErrBadInput: the input to Build is unusable (unknown customer filter,
	// bad option, duplicate customer).
	ErrBadInput = errors.New("bad plan input")
)

// Options are the user's choices for one plan.
type Options struct {
	// Targets, when set, limits the plan to these customers; Excludes
	// leaves customers out. Customers outside the plan are not touched and
	// their resources are not deleted.
	Targets  []string `json:"targets,omitempty"`
	Excludes []string `json:"excludes,omitempty"`
	// AllowDelete permits deleting the resources of customers removed from
	// git (their protection must be off as well).
	AllowDelete bool `json:"allow_delete"`
	// MaxDeleteFraction is the largest share of existing customers one plan
	// may delete (DefaultMaxDeleteFraction when zero). Deleting a single
	// customer never trips the breaker.
	MaxDeleteFraction float64 `json:"max_delete_fraction"`
	// ExoscaleVolumeQuota and ExoscaleStorageQuotaGB are the Exoscale
	// organisation's Block Storage quotas (volumes; GiB provisioned; 0:
	// unknown, not checked; Exoscale's defaults are 1,000 and 20,480). A
	// plan that would grow the organisation past one is refused with
	// ErrQuota before any call is made.
	ExoscaleVolumeQuota    int `json:"exoscale_volume_quota,omitempty"`
	ExoscaleStorageQuotaGB int `json:"exoscale_storage_quota_gb,omitempty"`
	// HetznerServerQuota is the most servers the Hetzner project may hold
	// (0: unknown, not checked). A plan that would grow the project's
	// servers (every customer's, in scope or not) beyond it is refused
	// with ErrQuota before any call is made.
	HetznerServerQuota int `json:"hetzner_server_quota,omitempty"`
}

// Input is everything a plan is computed from. Build reads no clock: Now
// and the observation times are inputs.
type Input struct {
	Commit    string
	Customers []schema.Customer
	// Invalid are the diagnostics of the load; any makes the plan empty.
	Invalid  []schema.Diagnostic
	Observed []Resource
	// ObservedAt is when each kind was fetched; ObservedAtAll stands in for
	// kinds missing from the map.
	ObservedAt    map[Kind]time.Time
	ObservedAtAll time.Time
	Now           time.Time
	Prices        Prices
	Options       Options
	// Scale holds the autoscaler's targets per customer (server count,
	// volume size), applied within the file's bounds.
	Scale map[string]Scale
	// AddressPool is where customers' address blocks come from
	// (DefaultAddressPool when zero); HeldBlocks are the blocks already
	// allocated (customer → "10.64.3.0/24", persisted by the state
	// package). Build gives every customer in git without one the lowest
	// free block (AssignBlocks); the caller persists the plan's blocks
	// before applying it.
	AddressPool netip.Prefix
	HeldBlocks  map[string]string
}

// Counts tallies actions.
type Counts struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Replace int `json:"replace"`
	Delete  int `json:"delete"`
	NoOp    int `json:"no_op"`
	Blocked int `json:"blocked"`
}

func (c *Counts) add(a Action) {
	switch a.Action {
	case ActionCreate:
		c.Create++
	case ActionUpdate:
		c.Update++
	case ActionReplace:
		c.Replace++
	case ActionDelete:
		c.Delete++
	case ActionNoOp:
		c.NoOp++
	}
	if a.Blocked {
		c.Blocked++
	}
}

// Changes is the number of create, update, replace and delete actions.
func (c Counts) Changes() int { return c.Create + c.Update + c.Replace + c.Delete }

// Customer statuses in a plan.
const (
	StatusCreate    = "create"    // new customer
	StatusUpdate    = "update"    // changes to an existing customer
	StatusDelete    = "delete"    // removed from git; deletes allowed
	StatusBlocked   = "blocked"   // removed from git; deletes refused
	StatusNoOp      = "no-op"     // converged
	StatusSuspended = "suspended" // suspended: not reconciled
	StatusError     = "error"     // the customer's changes are impossible
)

// CustomerPlan summarises one customer's part of the plan.
type CustomerPlan struct {
	Name      string      `json:"name"`
	Tier      schema.Tier `json:"tier,omitempty"`
	Status    string      `json:"status"`
	InGit     bool        `json:"in_git"`
	Protected bool        `json:"protected"`
	// Servers is the number of Hetzner servers before and after.
	ServersBefore int          `json:"servers_before"`
	ServersAfter  int          `json:"servers_after"`
	Counts        Counts       `json:"counts"`
	Cost          CustomerCost `json:"cost"`
	Errors        []string     `json:"errors,omitempty"`
	// Blocked explains why this customer's actions must not be applied.
	Blocked string `json:"blocked,omitempty"`
	// AddressBlock is the customer's /24 (plan/addressing.go).
	AddressBlock string `json:"address_block,omitempty"`
}

// Summary totals the plan.
type Summary struct {
	Customers int    `json:"customers"`
	Changed   int    `json:"changed"`
	Counts    Counts `json:"counts"`
	// Cost totals over the customers in the plan (USD per month).
	BeforeUSD    float64  `json:"before_usd"`
	AfterUSD     float64  `json:"after_usd"`
	DeltaUSD     float64  `json:"delta_usd"`
	ListPriceUSD float64  `json:"list_price_usd"`
	MarginUSD    float64  `json:"margin_usd"`
	Unpriced     []string `json:"unpriced,omitempty"`
}

// Plan is the whole computed plan; renderers and apply read only this.
type Plan struct {
	FormatVersion string    `json:"format_version"`
	Commit        string    `json:"commit"`
	CreatedAt     time.Time `json:"created_at"`
	// ObservedFingerprint hashes the observed resources of the customers
	// in Scope (Fingerprint); apply refuses a saved plan when it moved.
	ObservedFingerprint string             `json:"observed_fingerprint"`
	ObservedAt          map[Kind]time.Time `json:"observed_at,omitempty"`
	// ObservedAgeSeconds is CreatedAt minus the oldest observation.
	ObservedAgeSeconds int64   `json:"observed_age_seconds"`
	Options            Options `json:"options"`
	// Scope lists the customers the plan considered (sorted).
	Scope []string `json:"scope"`
	// Refused, when set, says why nothing in this plan may be applied.
	Refused   string              `json:"refused,omitempty"`
	Invalid   []schema.Diagnostic `json:"invalid,omitempty"`
	Summary   Summary             `json:"summary"`
	Customers []CustomerPlan      `json:"customers"`
	// Actions are grouped by customer and in execution order (Diff).
	Actions []Action `json:"actions"`
	// Steps is the execution order of the applicable actions (Steps).
	Steps    []Step   `json:"steps"`
	Warnings []string `json:"warnings,omitempty"`
	// AddressPool is the pool the customers' address blocks come from.
	AddressPool string `json:"address_pool"`
}

// heldBlocks are the persisted blocks plus, for customers without one,
// the block their observed vnet shows (a lost or new state file then keeps
// the addresses the clouds already use).
func heldBlocks(pool netip.Prefix, held map[string]string, obs map[string][]Resource) map[string]string {
	out := make(map[string]string, len(held))
	taken := make(map[string]bool, len(held))
	for c, b := range held {
		out[c] = b
		taken[b] = true
	}
	names := make([]string, 0, len(obs))
	for c := range obs {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		if _, ok := out[c]; ok {
			continue
		}
		for _, r := range obs[c] {
			if r.Kind != ONEVNet || r.Name != BaseName(c)+"-net" {
				continue
			}
			ip, err := netip.ParseAddr(r.Attrs["ar_ip"])
			if err != nil || !ip.Is4() || !pool.Contains(ip) {
				break
			}
			b := netip.PrefixFrom(ip, BlockBits).Masked().String()
			if !taken[b] {
				out[c], taken[b] = b, true
			}
			break
		}
	}
	return out
}

// Addresses returns the address block the plan gave a customer.
func (p *Plan) Addresses(customer string) (Addresses, error) {
	pool, err := netip.ParsePrefix(p.AddressPool)
	if err != nil {
		return Addresses{}, fmt.Errorf("plan's address pool %q: %w", p.AddressPool, err)
	}
	for _, c := range p.Customers {
		if c.Name == customer && c.AddressBlock != "" {
			return ParseBlock(pool, c.AddressBlock)
		}
	}
	return Addresses{}, fmt.Errorf("customer %s has no address block in the plan", customer)
}

// Blocks returns the address blocks of the plan's customers (customer →
// block), for the caller to persist before applying.
func (p *Plan) Blocks() map[string]string {
	out := map[string]string{}
	for _, c := range p.Customers {
		if c.AddressBlock != "" {
			out[c.Name] = c.AddressBlock
		}
	}
	return out
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool { return p.Refused == "" && len(p.Steps) > 0 }

// Build computes the plan. On a refusal (invalid files, mass deletion, a
// cloud quota of Options) it returns the plan, explaining the refusal in
// Plan.Refused, together with ErrInvalidDesiredState, ErrMassDeletion or
// ErrQuota; other errors (ErrBadInput) come with a nil plan. A customer
// beyond an Exoscale Block Storage limit is not a refusal of the plan but
// an error customer (status error, all its actions blocked).
func Build(in Input) (*Plan, error) {
	opts := in.Options
	if opts.MaxDeleteFraction == 0 {
		opts.MaxDeleteFraction = DefaultMaxDeleteFraction
	}
	if opts.MaxDeleteFraction < 0 || opts.MaxDeleteFraction > 1 || math.IsNaN(opts.MaxDeleteFraction) {
		return nil, fmt.Errorf("%w: max delete fraction %v is outside 0..1", ErrBadInput, opts.MaxDeleteFraction)
	}
	if opts.HetznerServerQuota < 0 || opts.ExoscaleVolumeQuota < 0 || opts.ExoscaleStorageQuotaGB < 0 {
		return nil, fmt.Errorf("%w: a quota is negative (hetzner servers %d, exoscale volumes %d, exoscale GB %d)",
			ErrBadInput, opts.HetznerServerQuota, opts.ExoscaleVolumeQuota, opts.ExoscaleStorageQuotaGB)
	}
	if err := in.Prices.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	p := &Plan{
		FormatVersion: FormatVersion, Commit: in.Commit, CreatedAt: in.Now.UTC(), Options: opts,
		Scope: []string{}, Customers: []CustomerPlan{}, Actions: []Action{}, Steps: []Step{},
	}
	p.ObservedAt, p.ObservedAgeSeconds = observedTimes(in)
	if len(in.Invalid) > 0 {
		return refuseInvalid(p, in)
	}
	git, err := indexCustomers(in.Customers)
	if err != nil {
		return nil, err
	}
	obs, unowned := observedByCustomer(in.Observed)
	if unowned > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d observed resource(s) without a customer were ignored", unowned))
	}
	if p.Scope, err = scopeOf(git, obs, opts); err != nil {
		return nil, err
	}
	b := builder{in: in, opts: opts, git: git, obs: obs, cost: coster{p: in.Prices.withDefaults()}}
	if err := b.assignBlocks(p); err != nil {
		return nil, err
	}
	existing, removed := 0, []string{}
	for _, name := range p.Scope {
		if len(obs[name]) > 0 {
			existing++
		}
		if git[name] == nil {
			removed = append(removed, name)
		}
		cp, actions := b.customer(name)
		p.Actions = append(p.Actions, actions...)
		p.Customers = append(p.Customers, cp)
	}
	massDeletionBreaker(p, removed, existing, opts.MaxDeleteFraction)
	refusedErr := ErrMassDeletion
	if p.Refused == "" && (hetznerQuota(p, obs, opts.HetznerServerQuota) || b.exoscaleQuota(p, opts)) {
		refusedErr = ErrQuota
	}
	p.Steps = Steps(p.Actions)
	if p.Steps == nil {
		p.Steps = []Step{}
	}
	p.ObservedFingerprint = fingerprint(obs, p.Scope)
	p.Summary = summarise(p.Customers)
	p.Warnings = append(p.Warnings, unprofitable(p.Customers)...)
	if p.Refused != "" {
		return p, fmt.Errorf("%w: %s", refusedErr, p.Refused)
	}
	return p, nil
}

// refuseInvalid is the plan of invalid files: nothing, and why.
func refuseInvalid(p *Plan, in Input) (*Plan, error) {
	p.ObservedFingerprint = Fingerprint(in.Observed, nil)
	p.Invalid = append([]schema.Diagnostic(nil), in.Invalid...)
	files := map[string]bool{}
	for _, d := range in.Invalid {
		files[d.File] = true
	}
	p.Refused = fmt.Sprintf("%d problem(s) in %d customer file(s): nothing is planned until they are fixed", len(in.Invalid), len(files))
	return p, fmt.Errorf("%w: %s", ErrInvalidDesiredState, p.Refused)
}

// indexCustomers maps the customers in git by name.
func indexCustomers(cs []schema.Customer) (map[string]*schema.Customer, error) {
	git := make(map[string]*schema.Customer, len(cs))
	for i := range cs {
		c := &cs[i]
		if c.Name == "" {
			return nil, fmt.Errorf("%w: customer without a name", ErrBadInput)
		}
		if git[c.Name] != nil {
			return nil, fmt.Errorf("%w: customer %q appears twice", ErrBadInput, c.Name)
		}
		git[c.Name] = c
	}
	return git, nil
}

// observedByCustomer groups observed resources by customer; unowned
// counts those without one.
func observedByCustomer(rs []Resource) (obs map[string][]Resource, unowned int) {
	obs = map[string][]Resource{}
	for _, r := range rs {
		c := customerOf(r)
		if c == "" {
			unowned++
			continue
		}
		obs[c] = append(obs[c], r)
	}
	return obs, unowned
}

// builder plans one customer at a time.
type builder struct {
	in       Input
	opts     Options
	git      map[string]*schema.Customer
	obs      map[string][]Resource
	cost     coster
	blocks   map[string]Addresses
	blockErr error
	// desiredVolumes is each converging customer's desired block volumes
	// (count, GB), for the organisation quotas.
	desiredVolumes map[string][2]int
}

// assignBlocks gives every customer in git its address block. Every one
// gets it here, not only those in scope, so plans for different targets
// agree on who gets which free block.
func (b *builder) assignBlocks(p *Plan) error {
	pool := b.in.AddressPool
	if !pool.IsValid() {
		pool = netip.MustParsePrefix(DefaultAddressPool)
	}
	p.AddressPool = pool.String()
	var inGit []string
	for name, c := range b.git {
		if !c.Suspended {
			inGit = append(inGit, name)
		}
	}
	b.blocks, b.blockErr = AssignBlocks(pool, heldBlocks(pool, b.in.HeldBlocks, b.obs), inGit)
	if b.blockErr != nil && !errors.Is(b.blockErr, ErrPoolFull) {
		return fmt.Errorf("%w: %w", ErrBadInput, b.blockErr)
	}
	return nil
}

// customer plans one customer of the scope: removed from git, suspended,
// or to converge; a blocked customer's actions are all marked blocked.
func (b *builder) customer(name string) (CustomerPlan, []Action) {
	mine := b.obs[name]
	cp := CustomerPlan{Name: name, ServersBefore: countKind(mine, HetznerServer)}
	before, unBefore := b.cost.of(mine)
	var actions []Action
	c := b.git[name]
	switch {
	case c == nil:
		actions = b.removed(&cp, mine, before, unBefore)
	case c.Suspended:
		cp.Tier, cp.InGit, cp.Protected, cp.Status = c.Tier, true, c.Protection.DeletionProtection, StatusSuspended
		cp.ServersAfter = cp.ServersBefore
		cp.Cost = CustomerCost{BeforeUSD: before, AfterUSD: before, MaxUSD: before, ListPriceUSD: c.Placement.ListPriceUSD, Unpriced: unBefore}
	default:
		actions = b.converge(&cp, *c, mine, before, unBefore)
	}
	if cp.Blocked != "" {
		for i := range actions {
			if !actions[i].Blocked {
				actions[i].Blocked, actions[i].BlockedReason = true, cp.Blocked
			}
		}
		if cp.Status == StatusDelete {
			cp.Status = StatusBlocked
		}
	}
	finishCost(&cp.Cost)
	for _, a := range actions {
		cp.Counts.add(a)
	}
	cp.Counts.NoOp = countNoOp(mine, actions, c != nil && !c.Suspended)
	return cp, actions
}

// removed plans the deletion of a customer gone from git.
func (b *builder) removed(cp *CustomerPlan, mine []Resource, before float64, unBefore []string) []Action {
	actions := diffCustomer(nil, mine, DiffOptions{})
	cp.Protected = isProtected(mine)
	cp.Status = StatusDelete
	switch {
	case cp.Protected:
		cp.Blocked = "deletion protection is on (protection.deletionProtection was true when last applied): restore the file, set it to false and apply before removing the file"
	case !b.opts.AllowDelete:
		cp.Blocked = "customer removed from git: deleting its resources needs --allow-delete"
	}
	cp.Cost = CustomerCost{BeforeUSD: before, Unpriced: unBefore}
	return actions
}

// converge plans a customer in git towards its file.
func (b *builder) converge(cp *CustomerPlan, c schema.Customer, mine []Resource, before float64, unBefore []string) []Action {
	cp.Tier, cp.InGit, cp.Protected = c.Tier, true, c.Protection.DeletionProtection
	addrs, ok := b.blocks[c.Name]
	if !ok {
		cp.Status = StatusError
		cp.Errors = []string{"no address block: " + b.blockErr.Error()}
		cp.Blocked = cp.Errors[0]
		cp.Cost = CustomerCost{BeforeUSD: before, AfterUSD: before, MaxUSD: before, ListPriceUSD: c.Placement.ListPriceUSD, Unpriced: unBefore}
		return nil
	}
	cp.AddressBlock = addrs.Block.String()
	desired := expand(c, addrs, mine, b.in.Scale[c.Name])
	if b.desiredVolumes == nil {
		b.desiredVolumes = map[string][2]int{}
	}
	b.desiredVolumes[c.Name] = volumeUsage(desired)
	actions := diffCustomer(desired, mine, DiffOptions{})
	cp.ServersAfter = countKind(desired, HetznerServer)
	after, unAfter := b.cost.of(desired)
	cp.Cost = CustomerCost{BeforeUSD: before, AfterUSD: after, ListPriceUSD: c.Placement.ListPriceUSD,
		MaxUSD: maxCost(b.cost, c, desired, after), Unpriced: mergeUnique(unBefore, unAfter),
		ExpectedInvoiceUSD: ExpectedInvoice(c.Placement.ListPriceUSD, c.Placement.Billing, cp.ServersAfter, volumeUsage(desired)[1]),
		MaxInvoiceUSD:      ExpectedInvoice(c.Placement.ListPriceUSD, c.Placement.Billing, c.Compute.MaxServers, max(c.Storage.MaxGB, volumeUsage(desired)[1])),
	}
	for _, a := range actions {
		if a.Blocked {
			cp.Errors = append(cp.Errors, a.Address+": "+a.BlockedReason)
		}
	}
	cp.Errors = append(cp.Errors, storageLimitErrors(desired)...)
	switch {
	case len(cp.Errors) > 0:
		cp.Status = StatusError
		cp.Blocked = "the customer's changes are impossible: " + strings.Join(cp.Errors, "; ")
	case len(mine) == 0:
		cp.Status = StatusCreate
	case len(actions) > 0:
		cp.Status = StatusUpdate
	default:
		cp.Status = StatusNoOp
	}
	return actions
}

// massDeletionBreaker blocks every action when the plan would delete more
// than the allowed share of the existing customers.
func massDeletionBreaker(p *Plan, removed []string, existing int, fraction float64) {
	if len(removed) <= 1 || float64(len(removed)) <= fraction*float64(existing) {
		return
	}
	p.Refused = fmt.Sprintf("the plan would delete %d of %d existing customers (%s), more than the allowed %s: %s",
		len(removed), existing, percent(float64(len(removed))/float64(max(existing, 1))), percent(fraction),
		strings.Join(removed, ", "))
	for i := range p.Actions {
		if !p.Actions[i].Blocked {
			p.Actions[i].Blocked, p.Actions[i].BlockedReason = true, "mass-deletion breaker: "+p.Refused
		}
	}
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + " %" }

func observedTimes(in Input) (map[Kind]time.Time, int64) {
	out := map[Kind]time.Time{}
	for k, t := range in.ObservedAt {
		out[k] = t.UTC()
	}
	if !in.ObservedAtAll.IsZero() {
		for _, k := range Kinds {
			if _, ok := out[k]; !ok {
				out[k] = in.ObservedAtAll.UTC()
			}
		}
	}
	var oldest time.Time
	for _, t := range out {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if len(out) == 0 {
		return nil, 0
	}
	age := int64(in.Now.Sub(oldest) / time.Second)
	if age < 0 {
		age = 0
	}
	return out, age
}

// scopeOf returns the sorted customers the plan covers.
func scopeOf(git map[string]*schema.Customer, obs map[string][]Resource, o Options) ([]string, error) {
	known := func(n string) bool { return git[n] != nil || obs[n] != nil }
	for _, n := range append(append([]string(nil), o.Targets...), o.Excludes...) {
		if !known(n) {
			return nil, fmt.Errorf("%w: unknown customer %q (neither in git nor in the clouds)", ErrBadInput, n)
		}
	}
	target := map[string]bool{}
	for _, n := range o.Targets {
		target[n] = true
	}
	exclude := map[string]bool{}
	for _, n := range o.Excludes {
		exclude[n] = true
	}
	in := func(n string) bool { return (len(target) == 0 || target[n]) && !exclude[n] }
	var names []string
	for n := range git {
		if in(n) {
			names = append(names, n)
		}
	}
	for n := range obs {
		if git[n] == nil && in(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// isProtected: a removed customer is protected unless every labelled
// resource says protected=false (a missing label counts as protected).
func isProtected(rs []Resource) bool {
	for _, r := range rs {
		if hasLabels(r.Kind) && r.Labels[LabelProtected] != "false" {
			return true
		}
	}
	return false
}

func countKind(rs []Resource, k Kind) int {
	n := 0
	for _, r := range rs {
		if r.Kind == k {
			n++
		}
	}
	return n
}

// countNoOp is the number of observed resources left as they are.
func countNoOp(mine []Resource, actions []Action, reconciled bool) int {
	if !reconciled {
		return 0
	}
	touched := 0
	for _, a := range actions {
		if a.Before != nil {
			touched++
		}
	}
	if n := len(mine) - touched; n > 0 {
		return n
	}
	return 0
}

func maxCost(c coster, cu schema.Customer, desired []Resource, after float64) float64 {
	n := countKind(desired, HetznerServer)
	extra := 0.0
	if v, ok := c.serverUSD(cu.Compute.ServerType, cu.Placement.HetznerLocation); ok && cu.Compute.MaxServers > n {
		extra += float64(cu.Compute.MaxServers-n) * v
	}
	for _, r := range desired {
		if r.Kind == ExoBlockVolume {
			gb, _ := strconv.Atoi(r.Attrs["size_gb"])
			if cu.Storage.MaxGB > gb {
				extra += c.volumeUSD(cu.Storage.MaxGB - gb)
			}
		}
	}
	return after + extra
}

func finishCost(c *CustomerCost) {
	c.BeforeUSD, c.AfterUSD, c.MaxUSD = round2(c.BeforeUSD), round2(c.AfterUSD), round2(c.MaxUSD)
	c.DeltaUSD = round2(c.AfterUSD - c.BeforeUSD)
	switch {
	case c.ExpectedInvoiceUSD > 0:
		c.MarginUSD = round2(c.ExpectedInvoiceUSD - c.AfterUSD)
		c.MaxMarginUSD = round2(c.MaxInvoiceUSD - c.MaxUSD)
	case c.ListPriceUSD > 0:
		c.MarginUSD = round2(c.ListPriceUSD - c.AfterUSD)
	}
}

func mergeUnique(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		out = appendUnique(out, s)
	}
	sort.Strings(out)
	return out
}

// unprofitable warns of every customer this plan changes whose monthly
// cost after it is above its expected invoice.
func unprofitable(cs []CustomerPlan) []string {
	var out, names []string
	for _, c := range cs {
		if c.Cost.ExpectedInvoiceUSD <= 0 || c.Cost.MarginUSD >= 0 || c.Counts.Changes() == 0 || c.Status == StatusError {
			continue
		}
		names = append(names, c.Name)
		out = append(out, fmt.Sprintf("customer %s is unprofitable after this plan: it costs %s/mo, above its expected invoice of %s/mo (list price %s)",
			c.Name, usd(c.Cost.AfterUSD), usd(c.Cost.ExpectedInvoiceUSD), usd(c.Cost.ListPriceUSD)))
	}
	// Many at once (a fleet's first plan) make one line, not a page.
	const most = 3
	if len(out) > most {
		return []string{fmt.Sprintf("%d customers are unprofitable after this plan (cost above expected invoice): %s and %d more; see each customer's margin",
			len(names), strings.Join(names[:most], ", "), len(names)-most)}
	}
	return out
}

func summarise(cs []CustomerPlan) Summary {
	s := Summary{Customers: len(cs)}
	for _, c := range cs {
		s.Counts.Create += c.Counts.Create
		s.Counts.Update += c.Counts.Update
		s.Counts.Replace += c.Counts.Replace
		s.Counts.Delete += c.Counts.Delete
		s.Counts.NoOp += c.Counts.NoOp
		s.Counts.Blocked += c.Counts.Blocked
		if c.Counts.Changes() > 0 {
			s.Changed++
		}
		s.BeforeUSD += c.Cost.BeforeUSD
		s.AfterUSD += c.Cost.AfterUSD
		s.ListPriceUSD += c.Cost.ListPriceUSD
		s.MarginUSD += c.Cost.MarginUSD
		for _, u := range c.Cost.Unpriced {
			s.Unpriced = appendUnique(s.Unpriced, u)
		}
	}
	sort.Strings(s.Unpriced)
	s.BeforeUSD, s.AfterUSD, s.ListPriceUSD, s.MarginUSD = round2(s.BeforeUSD), round2(s.AfterUSD), round2(s.ListPriceUSD), round2(s.MarginUSD)
	s.DeltaUSD = round2(s.AfterUSD - s.BeforeUSD)
	return s
}

// Fingerprint hashes the observed resources of the customers in scope
// (all customers when scope is nil): kind, name, id, attributes and
// labels, in a canonical order. Apply recomputes it from fresh
// observations to check that a saved plan still matches the clouds.
func Fingerprint(observed []Resource, scope []string) string {
	obs := map[string][]Resource{}
	for _, r := range observed {
		if c := customerOf(r); c != "" {
			obs[c] = append(obs[c], r)
		}
	}
	if scope == nil {
		for c := range obs {
			scope = append(scope, c)
		}
		sort.Strings(scope)
	}
	return fingerprint(obs, scope)
}

func fingerprint(obs map[string][]Resource, scope []string) string {
	h := sha256.New()
	var keys []string
	var buf []byte
	field := func(parts ...string) {
		for _, p := range parts {
			buf = append(buf, p...)
			buf = append(buf, 0)
		}
	}
	var rs []*Resource
	for _, c := range scope {
		rs = rs[:0]
		for i := range obs[c] {
			rs = append(rs, &obs[c][i])
		}
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].Kind != rs[j].Kind {
				return rs[i].Kind < rs[j].Kind
			}
			if rs[i].Name != rs[j].Name {
				return rs[i].Name < rs[j].Name
			}
			return rs[i].ID < rs[j].ID
		})
		buf = buf[:0]
		field("customer", c)
		for _, r := range rs {
			field(string(r.Kind), r.Name, r.ID)
			keys = sortedKeys(r.Attrs, keys)
			for _, k := range keys {
				field("a", k, r.Attrs[k])
			}
			keys = sortedKeys(r.Labels, keys)
			for _, k := range keys {
				field("l", k, r.Labels[k])
			}
			buf = append(buf, '\n')
		}
		h.Write(buf)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func sortedKeys(m map[string]string, buf []string) []string {
	buf = buf[:0]
	for k := range m {
		buf = append(buf, k)
	}
	sort.Strings(buf)
	return buf
}
