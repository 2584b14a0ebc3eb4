package reconciler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
)

// Journal records each mutating call before it is made and its outcome
// after (state.Store implements it).
type Journal interface {
	Begin(ctx context.Context, in state.Intent) (uint64, error)
	Finish(seq uint64, o state.Outcome) error
}

// executor applies a plan's actions through the providers.
type executor struct {
	Providers map[plan.Cloud]Provider
	Journal   Journal
	Secrets   SecretStore
	Log       *slog.Logger
	// Progress, if set, is called after every step (from several goroutines).
	Progress func(StepEvent)
	// Concurrency is how many customers are applied at once (default 4).
	Concurrency int
	// StepConcurrency is how many of one customer's steps run at once
	// (default 4); a step always waits for the steps it depends on.
	StepConcurrency int
	// Addresses gives a customer's address block (the plan's), needed to
	// render user data.
	Addresses func(customer string) (plan.Addresses, error)
	// FrontendSSHKey is authorised for oneadmin on every server.
	FrontendSSHKey string
}

// StepEvent reports one finished step.
type StepEvent struct {
	Customer string
	Op       plan.ActionKind
	Address  string
	ID       string
	Err      error
	Duration time.Duration
	Done     int // steps finished so far, all customers
	Total    int
}

// ApplyResult summarises an apply.
type ApplyResult struct {
	ApplyID string
	Steps   int
	Done    int
	// Failed maps a customer to the error that stopped its steps.
	Failed map[string]error
	// Applied lists the customers whose steps all succeeded.
	Applied []string
	// Changed are the resources created or updated, as the providers
	// returned them; Deleted the addresses removed. A caller can patch its
	// observed cache with them instead of refreshing every cloud.
	Changed []plan.Resource
	Deleted []plan.Address
}

// Err joins the customers' errors (nil when every customer succeeded).
func (r *ApplyResult) Err() error {
	var errs []error
	for c, err := range r.Failed {
		errs = append(errs, fmt.Errorf("customer %s: %w", c, err))
	}
	return errors.Join(errs...)
}

// Apply runs the steps of actions (as plan.Steps orders them). observed
// supplies the ids of existing resources for references. Customers are
// independent: one customer's failure stops only its own remaining steps.
func (x *executor) Apply(ctx context.Context, actions []plan.Action, observed []plan.Resource) (*ApplyResult, error) {
	log := x.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	applyID := newApplyID()
	log = log.With("apply_id", applyID)
	ids := &idMap{m: map[plan.Address]string{}}
	for _, r := range observed {
		ids.set(r.Address(), r.ID)
		if r.Outputs != nil {
			ids.setOutputs(r.Address(), r.Outputs)
		}
	}
	// Customers whose mesh already runs: their WireGuard keys are in the
	// nodes, so secrets missing from state must not be made up anew.
	meshUp := map[string]bool{}
	for _, r := range observed {
		if r.Kind == plan.ExoInstance || r.Kind == plan.HetznerServer {
			meshUp[r.Customer] = true
		}
	}
	steps := plan.Steps(actions)
	byCustomer := map[string][]plan.Step{}
	var order []string
	for _, s := range steps {
		c := actions[s.Index].Customer
		if _, ok := byCustomer[c]; !ok {
			order = append(order, c)
		}
		byCustomer[c] = append(byCustomer[c], s)
	}
	res := &ApplyResult{ApplyID: applyID, Steps: len(steps), Failed: map[string]error{}}
	var mu sync.Mutex
	conc := x.Concurrency
	if conc <= 0 {
		conc = 4
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for _, customer := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			clog := log.With("customer", customer)
			err := x.applyCustomer(ctx, clog, applyID, customer, meshUp[customer], actions, byCustomer[customer], ids, func(ev StepEvent, got *plan.Resource, deleted *plan.Address) {
				mu.Lock()
				res.Done++
				ev.Done, ev.Total = res.Done, res.Steps
				if got != nil {
					res.Changed = append(res.Changed, *got)
				}
				if deleted != nil {
					res.Deleted = append(res.Deleted, *deleted)
				}
				mu.Unlock()
				if x.Progress != nil {
					x.Progress(ev)
				}
			})
			mu.Lock()
			if err != nil {
				res.Failed[customer] = err
			} else {
				res.Applied = append(res.Applied, customer)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return res, ctx.Err()
}

// applyCustomer runs one customer's steps: each starts once the earlier
// steps it depends on (plan.StepWaits) are done, at most StepConcurrency at
// once. After a failure no further step starts; the steps already running
// finish, and the first error is returned.
func (x *executor) applyCustomer(ctx context.Context, log *slog.Logger, applyID, customer string, meshUp bool, actions []plan.Action, steps []plan.Step, ids *idMap, report func(StepEvent, *plan.Resource, *plan.Address)) error {
	waits := plan.StepWaits(actions, steps)
	conc := x.StepConcurrency
	if conc <= 0 {
		conc = 4
	}
	run := &customerRun{x: x, log: log, applyID: applyID, customer: customer, meshUp: meshUp, actions: actions, ids: ids, report: report,
		sem: make(chan struct{}, conc), stopped: make(chan struct{})}
	done := make([]chan struct{}, len(steps))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i, st := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			for _, j := range waits[i] {
				select {
				case <-done[j]:
				case <-run.stopped:
					return
				}
			}
			select {
			case run.sem <- struct{}{}:
			case <-run.stopped:
				return
			}
			defer func() { <-run.sem }()
			select {
			case <-run.stopped: // a step failed while this one queued
				return
			default:
			}
			if err := ctx.Err(); err != nil {
				run.fail(err)
				return
			}
			if err := run.step(ctx, st); err != nil {
				run.fail(err)
			}
		}()
	}
	wg.Wait()
	return run.err
}

// customerRun is one customer's steps in flight.
type customerRun struct {
	x                 *executor
	log               *slog.Logger
	applyID, customer string
	meshUp            bool // the customer's storage node or servers exist
	actions           []plan.Action
	ids               *idMap
	report            func(StepEvent, *plan.Resource, *plan.Address)
	sem               chan struct{}

	mu      sync.Mutex
	secrets map[string]string
	err     error
	stopped chan struct{} // closed at the first failure
}

func (r *customerRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
		close(r.stopped)
	}
}

// customerSecrets loads (or generates) the customer's secrets once.
func (r *customerRun) customerSecrets() (map[string]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		if r.meshUp {
			if _, err := r.x.Secrets.Secrets(r.customer); errors.Is(err, state.ErrNotFound) {
				return nil, fmt.Errorf("%w: customer %s's storage node or servers exist in the clouds, but the state file holds no secrets for it "+
					"(a lost, replaced or older state file); new WireGuard keys would cut its nodes off each other. "+
					"Restore the state file (vdc state restore BACKUP); to rebuild the customer with new keys instead, delete its nodes first", ErrSecretsLost, r.customer)
			}
		}
		s, err := EnsureSecrets(r.x.Secrets, r.customer)
		if err != nil {
			return nil, err
		}
		r.secrets = s
	}
	return r.secrets, nil
}

// step journals and makes one provider call, then records its result.
func (r *customerRun) step(ctx context.Context, s plan.Step) error {
	x, log, ids := r.x, r.log, r.ids
	a := r.actions[s.Index]
	prov, ok := x.Providers[a.Kind.Cloud()]
	if !ok {
		return fmt.Errorf("%s: no provider for cloud %s", a.Address, a.Kind.Cloud())
	}
	in := state.Intent{Customer: r.customer, ApplyID: r.applyID, Action: string(s.Op), Address: a.Addr()}
	var target plan.Resource
	switch s.Op {
	case plan.ActionCreate, plan.ActionUpdate:
		target = *a.After
		target.Sensitive = nil
		in.Attrs = target.Attrs
		if needsSensitive(target.Kind) {
			secrets, err := r.customerSecrets()
			if err != nil {
				return err
			}
			sens, err := x.sensitiveFor(target, secrets, ids)
			if err != nil {
				return fmt.Errorf("%s: %w", a.Address, err)
			}
			target.Sensitive = sens
		}
	}
	if a.Before != nil {
		in.ID = a.Before.ID
	}
	seq, err := x.Journal.Begin(ctx, in)
	if err != nil {
		return fmt.Errorf("%s: journal: %w", a.Address, err)
	}
	start := time.Now()
	var got plan.Resource
	switch s.Op {
	case plan.ActionCreate:
		got, err = prov.Create(ctx, target, ids.lookup)
	case plan.ActionUpdate:
		got, err = prov.Update(ctx, *a.Before, target, ids.lookup)
	case plan.ActionDelete:
		err = prov.Delete(ctx, *a.Before)
	}
	out := state.Outcome{OK: err == nil, ID: got.ID}
	if err != nil {
		out.Err = err.Error()
	}
	if ferr := x.Journal.Finish(seq, out); ferr != nil && err == nil {
		err = fmt.Errorf("journal outcome: %w", ferr)
	}
	ev := StepEvent{Customer: r.customer, Op: s.Op, Address: a.Address, ID: got.ID, Err: err, Duration: time.Since(start)}
	addr := a.Addr()
	// The ids are recorded before the step is reported done, so the steps
	// waiting for this one find its id and outputs.
	if err == nil {
		switch s.Op {
		case plan.ActionCreate, plan.ActionUpdate:
			ids.set(addr, got.ID)
			if got.Outputs != nil {
				ids.setOutputs(addr, got.Outputs)
			}
		case plan.ActionDelete:
			ids.del(addr)
		}
	}
	switch {
	case err != nil:
		r.report(ev, nil, nil)
	case s.Op == plan.ActionDelete:
		r.report(ev, nil, &addr)
	default:
		got.Sensitive = nil
		r.report(ev, &got, nil)
	}
	if err != nil {
		log.Error("apply step failed", "op", s.Op, "address", a.Address, "err", err)
		return fmt.Errorf("%s %s: %w", s.Op, a.Address, err)
	}
	log.Info("apply step", "op", s.Op, "address", a.Address, "id", got.ID, "duration", ev.Duration)
	return nil
}

func needsSensitive(k plan.Kind) bool {
	return k == plan.HetznerServer || k == plan.ExoInstance || k == plan.ONEUser || k == plan.ONETemplate
}

// sensitiveFor renders the secret inputs of a create or update: user data
// with WireGuard keys for servers and the storage node, the admin password,
// and for the data template the credentials of the services it enables.
func (x *executor) sensitiveFor(r plan.Resource, secrets map[string]string, ids *idMap) (map[string]string, error) {
	addrs := func() (plan.Addresses, error) {
		if x.Addresses == nil {
			return plan.Addresses{}, fmt.Errorf("no address plan for customer %s", r.Customer)
		}
		return x.Addresses(r.Customer)
	}
	switch r.Kind {
	case plan.ONETemplate:
		if r.Name != plan.BaseName(r.Customer)+"-data" {
			return nil, nil
		}
		out := map[string]string{}
		for _, svc := range strings.Split(r.Attrs["services"], ",") {
			var pairs [][2]string
			switch svc {
			case "":
				continue
			case plan.ServiceMinIO:
				pairs = [][2]string{{SensitiveMinIOAccessKey, SecretMinIOAccessKey}, {SensitiveMinIOSecretKey, SecretMinIOSecretKey}}
			case plan.ServiceNeo4j:
				pairs = [][2]string{{SensitiveNeo4jPassword, SecretNeo4jPassword}}
			case plan.ServiceQdrant:
				pairs = [][2]string{{SensitiveQdrantAPIKey, SecretQdrantAPIKey}}
			default:
				return nil, fmt.Errorf("unknown data service %q", svc)
			}
			for _, p := range pairs {
				if secrets[p[1]] == "" {
					return nil, fmt.Errorf("no generated credential %s", p[1])
				}
				out[p[0]] = secrets[p[1]]
			}
		}
		a, err := addrs()
		if err != nil {
			return nil, err
		}
		script, err := dataStartScript(r, a, secrets, ids)
		if err != nil {
			return nil, err
		}
		out[plan.SensitiveStartScript] = script
		return out, nil
	case plan.ONEUser:
		return map[string]string{plan.SensitivePassword: secrets[SecretAdminPassword]}, nil
	case plan.ExoInstance:
		pubs := map[int]string{}
		for slot := 1; slot <= plan.ServerSlots; slot++ {
			pubs[slot] = secrets[WireGuardPublic(strconv.Itoa(slot))]
		}
		a, err := addrs()
		if err != nil {
			return nil, err
		}
		ud, err := plan.RenderStorageUserData(plan.StorageBootstrapFor(r.Customer, a), plan.StorageSecrets{
			WireGuardPrivateKey: secrets[WireGuardPrivate(StorageNode)], ServerPublicKeys: pubs,
			ControlPlanePublicKey: secrets[WireGuardPublic(ControlPlaneNode)], DataVMPublicKey: secrets[WireGuardPublic(DataVMNode)]})
		if err != nil {
			return nil, err
		}
		return map[string]string{plan.SensitiveUserData: string(ud)}, nil
	case plan.HetznerServer:
		slot, ok := plan.ServerSlot(r.Customer, r.Name)
		if !ok {
			return nil, fmt.Errorf("not a server name of customer %s", r.Customer)
		}
		endpoint, err := storageEndpoint(r.Customer, ids)
		if err != nil {
			return nil, err
		}
		a, err := addrs()
		if err != nil {
			return nil, err
		}
		ud, err := plan.RenderServerUserData(plan.ServerBootstrapFor(r.Customer, slot, a), plan.ServerSecrets{
			WireGuardPrivateKey: secrets[WireGuardPrivate(strconv.Itoa(slot))],
			StoragePublicKey:    secrets[WireGuardPublic(StorageNode)],
			StorageEndpoint:     endpoint,
			FrontendSSHKey:      x.FrontendSSHKey,
		})
		if err != nil {
			return nil, err
		}
		return map[string]string{plan.SensitiveUserData: string(ud)}, nil
	}
	return nil, nil
}

// dataStartScript renders the data VM's start script for the data
// template r (Sensitive[plan.SensitiveStartScript]; the OpenNebula adapter
// writes it base64-encoded as CONTEXT START_SCRIPT_BASE64).
func dataStartScript(r plan.Resource, a plan.Addresses, secrets map[string]string, ids *idMap) (string, error) {
	endpoint, err := storageEndpoint(r.Customer, ids)
	if err != nil {
		return "", err
	}
	script, err := plan.RenderDataVMStartScript(plan.DataVMBootstrapFor(r.Customer, a, r.Attrs["services"]), plan.DataVMSecrets{
		WireGuardPrivateKey: secrets[WireGuardPrivate(DataVMNode)], StoragePublicKey: secrets[WireGuardPublic(StorageNode)],
		StorageEndpoint: endpoint, MinIOAccessKey: secrets[SecretMinIOAccessKey], MinIOSecretKey: secrets[SecretMinIOSecretKey],
		Neo4jPassword: secrets[SecretNeo4jPassword], QdrantAPIKey: secrets[SecretQdrantAPIKey],
	})
	if err != nil {
		return "", err
	}
	return string(script), nil
}

// storageEndpoint is the public address of the customer's storage node,
// the WireGuard endpoint of the servers and the data VM.
func storageEndpoint(customer string, ids *idMap) (string, error) {
	storage := plan.Address{Kind: plan.ExoInstance, Name: plan.BaseName(customer) + "-storage"}
	if endpoint := ids.output(storage, plan.OutputPublicIP); endpoint != "" {
		return endpoint, nil
	}
	return "", fmt.Errorf("the storage node %s has no public address yet", storage)
}

// idMap is the cloud ids (and outputs) known during an apply.
type idMap struct {
	mu      sync.Mutex
	m       map[plan.Address]string
	outputs map[plan.Address]map[string]string
}

func (i *idMap) set(a plan.Address, id string) {
	i.mu.Lock()
	i.m[a] = id
	i.mu.Unlock()
}

func (i *idMap) del(a plan.Address) {
	i.mu.Lock()
	delete(i.m, a)
	delete(i.outputs, a)
	i.mu.Unlock()
}

func (i *idMap) setOutputs(a plan.Address, o map[string]string) {
	i.mu.Lock()
	if i.outputs == nil {
		i.outputs = map[plan.Address]map[string]string{}
	}
	i.outputs[a] = o
	i.mu.Unlock()
}

func (i *idMap) output(a plan.Address, key string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.outputs[a][key]
}

// lookup is the plan.Lookup providers get: an id, or for a
// plan.OutputRef address that resource's output.
func (i *idMap) lookup(a plan.Address) (string, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if res, key, ok := plan.SplitOutputRef(a); ok {
		v := i.outputs[res][key]
		return v, v != ""
	}
	id, ok := i.m[a]
	return id, ok && id != ""
}

func newApplyID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}
