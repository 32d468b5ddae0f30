// Command msn-loadtest measures the MSN client side of the bridge at scale: it starts the fake
// MSN server (package msn/msntest) in a child process, logs N sessions in to it from this
// process, lets them idle and reports per-session RSS and heap, goroutines and logins per
// second. Everything is on loopback; every loop is bounded in count and time.
//
//	msn-loadtest -sessions 1000 -contacts 50 -version 18
//
// The child (the same binary with -serve) creates the accounts, each with -contacts mutual
// contacts among the others, prints its addresses as one JSON line and serves until its
// standard input closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// maxSessions bounds -sessions: the tool must not exhaust the machine by accident.
const maxSessions = 20000

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "msn-loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	sessions, contacts, version, parallel int
	settle, timeout                       time.Duration
	serve                                 bool
	jsonOut                               bool
	heapProfile                           string
	messages                              int
}

func run() error {
	var o options
	flag.IntVar(&o.sessions, "sessions", 100, fmt.Sprintf("sessions to log in (1–%d)", maxSessions))
	flag.IntVar(&o.contacts, "contacts", 50, "mutual contacts per account (even, < sessions)")
	flag.IntVar(&o.version, "version", 18, "MSNP version the sessions negotiate")
	flag.IntVar(&o.parallel, "parallel", 64, "logins in flight at once")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle time after the last login before measuring")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound on the whole run")
	flag.BoolVar(&o.serve, "serve", false, "internal: run the fake server for a parent msn-loadtest")
	flag.BoolVar(&o.jsonOut, "json", false, "print the result as one JSON object")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "write a heap profile of the idle sessions to this file")
	flag.IntVar(&o.messages, "messages", 0, "after the idle measurement, send this many switchboard messages (≤ 100,000) between pairs of sessions, 64 in flight")
	flag.Parse()
	if o.sessions < 1 || o.sessions > maxSessions {
		return fmt.Errorf("-sessions must be 1–%d", maxSessions)
	}
	if o.contacts < 0 || o.contacts%2 != 0 || (o.contacts >= o.sessions && o.sessions > 1) {
		return errors.New("-contacts must be even and below -sessions")
	}
	if o.messages < 0 || o.messages > 100_000 || (o.messages > 0 && o.sessions < 2) {
		return errors.New("-messages must be 0–100000 and needs 2 sessions or more")
	}
	if o.parallel < 1 || o.parallel > 1024 {
		return errors.New("-parallel must be 1–1024")
	}
	if o.serve {
		return serve(o)
	}
	if o.heapProfile != "" {
		runtime.MemProfileRate = 4096 // fine-grained: per-session objects are small
	}
	res, err := measure(o)
	if err != nil {
		return err
	}
	return report(o, res)
}

// serverAddrs is the child's one line of JSON.
type serverAddrs struct {
	NS   string `json:"ns"`
	HTTP string `json:"http"`
}

func account(i int) string { return fmt.Sprintf("load%05d@load.test", i) }

const password = "loadpass"

// serve runs the fake server with the accounts until stdin closes.
func serve(o options) error {
	quiet := zerolog.Nop()
	srv, err := msntest.New(msntest.Options{Logger: &quiet})
	if err != nil {
		return err
	}
	for i := range o.sessions {
		if err := srv.AddAccount(account(i), password, fmt.Sprintf("Load %d", i)); err != nil {
			return err
		}
	}
	for i := range o.sessions {
		for k := 1; k <= o.contacts/2; k++ {
			j := (i + k) % o.sessions
			if err := srv.AddContact(account(i), account(j), msntest.FL|msntest.AL); err != nil {
				return err
			}
			if err := srv.AddContact(account(j), account(i), msntest.FL|msntest.AL); err != nil {
				return err
			}
		}
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	if err := json.NewEncoder(os.Stdout).Encode(serverAddrs{NS: srv.NSAddr(), HTTP: srv.HTTPURL()}); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes stdin (or dies) when done
	return nil
}

// snapshot is the process's resource use at one moment.
type snapshot struct {
	rss        int64 // bytes
	heapInuse  uint64
	heapAlloc  uint64
	stackInuse uint64
	goroutines int
	cpu        time.Duration
}

func take(freeOS bool) snapshot {
	runtime.GC()
	if freeOS {
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return snapshot{rss: rssBytes(), heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, stackInuse: ms.StackInuse, goroutines: runtime.NumGoroutine(), cpu: cpuTime()}
}

// rssBytes reads VmRSS from /proc/self/status (Linux); 0 when unavailable.
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Result is what one run measured.
type Result struct {
	Sessions           int     `json:"sessions"`
	Contacts           int     `json:"contacts"`
	Version            int     `json:"version"`
	LoginFailures      int     `json:"login_failures"`
	LoginSeconds       float64 `json:"login_seconds"`
	LoginsPerSecond    float64 `json:"logins_per_second"`
	CPUPerLoginMs      float64 `json:"cpu_per_login_ms"`
	RSSPerSessionKiB   float64 `json:"rss_per_session_kib"`
	RSSFreedPerSessKiB float64 `json:"rss_per_session_after_free_kib"`
	HeapPerSessionKiB  float64 `json:"heap_per_session_kib"`
	LivePerSessionKiB  float64 `json:"live_heap_per_session_kib"`
	StackPerSessionKiB float64 `json:"stack_per_session_kib"`
	GoroutinesPerSess  float64 `json:"goroutines_per_session"`
	EventsReceived     int64   `json:"events_received"`
	Messages           int     `json:"messages,omitempty"`
	MessagesDelivered  int64   `json:"messages_delivered,omitempty"`
	MessagesReceived   int64   `json:"messages_received,omitempty"`
	CPUPerMessageUs    float64 `json:"cpu_per_message_us,omitempty"`
	LatencyP50Ms       float64 `json:"ack_latency_p50_ms,omitempty"`
	LatencyP99Ms       float64 `json:"ack_latency_p99_ms,omitempty"`
}

func measure(o options) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		return Result{}, err
	}
	child := exec.CommandContext(ctx, self, "-serve", "-sessions", strconv.Itoa(o.sessions), "-contacts", strconv.Itoa(o.contacts))
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		return Result{}, err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := child.Start(); err != nil {
		return Result{}, fmt.Errorf("start the fake server: %w", err)
	}
	defer func() {
		_ = stdin.Close()
		_ = child.Wait()
	}()
	line, err := bufio.NewReader(io.LimitReader(stdout, 4096)).ReadBytes('\n')
	if err != nil {
		return Result{}, fmt.Errorf("fake server did not start: %w", err)
	}
	var addrs serverAddrs
	if err := json.Unmarshal(line, &addrs); err != nil {
		return Result{}, fmt.Errorf("fake server addresses: %w", err)
	}

	var events atomic.Int64
	cfg := ns.Config{
		Server:   addrs.NS,
		Versions: []int{o.version},
		Endpoints: ns.Endpoints{
			Login: addrs.HTTP + "/login", RST: addrs.HTTP + "/RST.srf",
			Sharing: addrs.HTTP + "/abservice/SharingService.asmx", AddressBook: addrs.HTTP + "/abservice/abservice.asmx",
			RSI: addrs.HTTP + "/rsi/rsi.asmx", OIM: addrs.HTTP + "/OimWS/oim.asmx",
		},
		MachineGUID:    "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}",
		RequestTimeout: 30 * time.Second,
		LoginTimeout:   60 * time.Second,
		Logger:         zerolog.Nop(),
	}
	managers := make([]atomic.Pointer[sb.Manager], o.sessions)
	cfg.HTTPClient = sharedHTTPClient() // one client for all sessions, as the bridge does

	before := take(true)
	sessions := make([]*ns.Session, o.sessions)
	var failures atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.sessions {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := cfg
			c.OnEvent = func(ev ns.Event) {
				events.Add(1)
				if inv, ok := ev.(*ns.SwitchboardInviteEvent); ok {
					if m := managers[i].Load(); m != nil {
						m.HandleInvite(sb.Invitation(*inv))
					}
				}
			}
			s, err := ns.Login(ctx, c, account(i), password)
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			sessions[i] = s
		}()
	}
	wg.Wait()
	loginTime := time.Since(start)
	afterLogin := cpuTime()
	defer func() {
		for _, s := range sessions {
			if s != nil {
				_ = s.Close()
			}
		}
	}()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "msn-loadtest: %d logins failed, first: %v\n", failures.Load(), e)
	}
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	idle := take(false)
	freed := take(true)
	if o.heapProfile != "" {
		if err := writeHeapProfile(o.heapProfile); err != nil {
			return Result{}, err
		}
	}
	n := o.sessions - int(failures.Load())
	if n == 0 {
		return Result{}, errors.New("no session logged in")
	}
	per := func(a, b int64) float64 { return float64(a-b) / float64(n) / 1024 }
	res := Result{
		Sessions: o.sessions, Contacts: o.contacts, Version: o.version,
		LoginFailures:      int(failures.Load()),
		LoginSeconds:       loginTime.Seconds(),
		LoginsPerSecond:    float64(n) / loginTime.Seconds(),
		CPUPerLoginMs:      float64(afterLogin-before.cpu) / float64(n) / 1e6,
		RSSPerSessionKiB:   per(idle.rss, before.rss),
		RSSFreedPerSessKiB: per(freed.rss, before.rss),
		HeapPerSessionKiB:  per(int64(freed.heapInuse), int64(before.heapInuse)),
		LivePerSessionKiB:  per(int64(freed.heapAlloc), int64(before.heapAlloc)),
		StackPerSessionKiB: per(int64(freed.stackInuse), int64(before.stackInuse)),
		GoroutinesPerSess:  float64(freed.goroutines-before.goroutines) / float64(n),
		EventsReceived:     events.Load(),
	}
	if o.messages > 0 {
		if err := sendMessages(ctx, o, sessions, managers, &res); err != nil {
			return Result{}, err
		}
	}
	runtime.KeepAlive(sessions)
	return res, nil
}

// report prints a result, as text or one JSON object.
func report(o options, res Result) error {
	if o.jsonOut {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("sessions %d (MSNP%d, %d contacts each), %d failed\n", res.Sessions, res.Version, res.Contacts, res.LoginFailures)
	fmt.Printf("logins: %.1f s, %.0f/s, %.2f ms CPU per login\n", res.LoginSeconds, res.LoginsPerSecond, res.CPUPerLoginMs)
	fmt.Printf("per idle session: RSS %.1f KiB (%.1f KiB after returning free memory), heap %.1f KiB (%.1f KiB of live objects), goroutine stacks %.1f KiB, %.2f goroutines\n",
		res.RSSPerSessionKiB, res.RSSFreedPerSessKiB, res.HeapPerSessionKiB, res.LivePerSessionKiB, res.StackPerSessionKiB, res.GoroutinesPerSess)
	fmt.Printf("events received: %d\n", res.EventsReceived)
	if res.Messages > 0 {
		fmt.Printf("messages: %d delivered of %d, %.1f µs client CPU per message (sender and receiver), ACK latency p50 %.2f ms p99 %.2f ms\n",
			res.MessagesDelivered, res.Messages, res.CPUPerMessageUs, res.LatencyP50Ms, res.LatencyP99Ms)
	}
	return nil
}

// sharedHTTPClient is one loopback HTTP client for every session, like the bridge's.
func sharedHTTPClient() *http.Client {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}

// nsAdapter gives an *ns.Session the shape sb.NotificationServer wants.
type nsAdapter struct{ s *ns.Session }

func (a nsAdapter) Passport() string { return a.s.Passport() }
func (a nsAdapter) Version() int     { return a.s.Version() }
func (a nsAdapter) RequestSwitchboard(ctx context.Context) (sb.Ticket, error) {
	t, err := a.s.RequestSwitchboard(ctx)
	return sb.Ticket(t), err
}

// inFlight is the number of messages sent at once.
const inFlight = 64

// sendMessages sends o.messages texts from session 2k to session 2k+1 (contacts of each other),
// inFlight pairs at once, and measures the process's CPU per message and the time from send to
// the server's ACK. Both ends are in this process, so the CPU covers sending and receiving.
func sendMessages(ctx context.Context, o options, sessions []*ns.Session, managers []atomic.Pointer[sb.Manager], res *Result) error {
	pairs := min(inFlight, o.sessions/2)
	var received atomic.Int64
	allIn := make(chan struct{})
	for i := range 2 * pairs {
		if sessions[i] == nil {
			return fmt.Errorf("session %d did not log in", i)
		}
		m := sb.NewManager(nsAdapter{sessions[i]}, sb.Config{
			MachineGUID: "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}",
			XFRInterval: -1,
			OnEvent: func(ev sb.Event) {
				if _, ok := ev.(*sb.MessageEvent); ok && received.Add(1) == int64(o.messages) {
					close(allIn)
				}
			},
		})
		defer m.Close()
		managers[i].Store(m)
	}
	lat := make([]time.Duration, o.messages)
	var delivered atomic.Int64
	var next atomic.Int64
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	for p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conv := managers[2*p].Load().Conversation(account(2*p + 1))
			for {
				k := next.Add(1) - 1
				if k >= int64(o.messages) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				out, _ := conv.SendText(ctx, fmt.Sprintf("load message %d", k), message.Format{}).Wait(ctx)
				lat[k] = time.Since(t0)
				if out == sb.Delivered {
					delivered.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-allIn:
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	cpu := cpuTime() - cpu0
	slices.Sort(lat)
	res.Messages = o.messages
	res.MessagesDelivered = delivered.Load()
	res.MessagesReceived = received.Load()
	res.CPUPerMessageUs = float64(cpu) / float64(o.messages) / 1e3
	res.LatencyP50Ms = float64(lat[len(lat)/2]) / 1e6
	res.LatencyP99Ms = float64(lat[len(lat)*99/100]) / 1e6
	return nil
}
