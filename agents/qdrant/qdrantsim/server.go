package qdrantsim

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Version is the Qdrant version the simulator reports in HealthCheck. It
// matches the go-client's minor version so the client's compatibility
// check passes without being skipped.
const Version = "1.17.1"

// Options configure a Server.
type Options struct {
	// APIKey, when set, is required in the `api-key` metadata of every call
	// (what qdrant.Config.APIKey sends); calls without it get
	// codes.Unauthenticated.
	APIKey string
	// Logger receives one debug line per call; nil discards.
	Logger *slog.Logger
}

// Server holds the in-memory collections and implements Qdrant's gRPC
// services. The zero value is not usable; call New.
type Server struct {
	opts Options
	log  *slog.Logger

	mu          sync.RWMutex
	collections map[string]*collection
	opID        uint64

	// Each service embeds its generated Unimplemented*Server, which answers
	// codes.Unimplemented for every method not overridden here.
	health qdrantService
	cols   collectionsService
	pts    pointsService
}

type qdrantService struct {
	qdrant.UnimplementedQdrantServer
}

type collectionsService struct {
	qdrant.UnimplementedCollectionsServer
	s *Server
}

type pointsService struct {
	qdrant.UnimplementedPointsServer
	s *Server
}

// New returns an empty server.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log, collections: map[string]*collection{}}
	s.cols.s = s
	s.pts.s = s
	return s
}

// HealthCheck answers the call qdrant.NewClient makes to check versions.
func (qdrantService) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	return &qdrant.HealthCheckReply{Title: "qdrant - vector search engine (agentvdc simulator)", Version: Version}, nil
}

// Register registers the Qdrant, Collections and Points services on g.
func (s *Server) Register(g *grpc.Server) {
	qdrant.RegisterQdrantServer(g, s.health)
	qdrant.RegisterCollectionsServer(g, &s.cols)
	qdrant.RegisterPointsServer(g, &s.pts)
}

// NewGRPCServer returns a grpc.Server with the services registered and the
// API-key and logging interceptor installed.
func (s *Server) NewGRPCServer() *grpc.Server {
	g := grpc.NewServer(grpc.UnaryInterceptor(s.intercept))
	s.Register(g)
	return g
}

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	if s.opts.APIKey != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		got := md.Get("api-key")
		if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(s.opts.APIKey)) != 1 {
			// Same wording as Qdrant; never echo the key.
			return nil, status.Error(codes.Unauthenticated, "Must provide an API key or an Authorization bearer token")
		}
	}
	resp, err := handler(ctx, req)
	s.log.Debug("qdrantsim call", "method", info.FullMethod, "duration", time.Since(start), "code", status.Code(err).String())
	return resp, err
}

// Start serves a new Server on 127.0.0.1 at a free port until ctx is done or
// stop is called. addr is "127.0.0.1:PORT". stop waits for the server to
// finish and may be called more than once.
func Start(ctx context.Context, opts Options) (addr string, stop func(), err error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("qdrantsim: listen: %w", err)
	}
	s := New(opts)
	g := s.NewGRPCServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := g.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("qdrantsim serve", "err", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			g.Stop()
			<-done
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	}()
	return lis.Addr().String(), stop, nil
}

// nextOp returns a fresh operation id; callers hold s.mu for writing.
func (s *Server) nextOp() *qdrant.UpdateResult {
	s.opID++
	id := s.opID
	return &qdrant.UpdateResult{OperationId: &id, Status: qdrant.UpdateStatus_Completed}
}

// get returns the named collection or Qdrant's NotFound error; callers hold
// s.mu.
func (s *Server) get(name string) (*collection, error) {
	c, ok := s.collections[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
	}
	return c, nil
}

func badInput(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "Wrong input: "+format, args...)
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }
