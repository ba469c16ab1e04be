// netdelay holds every packet that iptables queues to it (-j NFQUEUE) for a fixed
// time, then lets it go, in arrival order: a delay fault for kernels without the netem
// qdisc. The test rig starts it inside its own network namespace and kills it to end
// the fault; it prints "ready" once it is bound to its queue.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/florianl/go-nfqueue"
)

type held struct {
	id      uint32
	release time.Time
}

func main() {
	queue := flag.Uint("queue", 0, "the NFQUEUE number to serve")
	delay := flag.Duration("delay", 100*time.Millisecond, "how long each packet is held")
	flag.Parse()

	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      uint16(*queue),
		MaxPacketLen: 0,
		MaxQueueLen:  8192,
		Copymode:     nfqueue.NfQnlCopyMeta,
		WriteTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "netdelay: cannot open the queue:", err)
		os.Exit(1)
	}
	defer nf.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// One releaser keeps the order: packets leave in the order they came, each no
	// earlier than its own release time. The channel bounds what is held.
	pending := make(chan held, 8192)
	go func() {
		for p := range pending {
			if wait := time.Until(p.release); wait > 0 {
				time.Sleep(wait)
			}
			_ = nf.SetVerdict(p.id, nfqueue.NfAccept)
		}
	}()

	hook := func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		select {
		case pending <- held{id: *a.PacketID, release: time.Now().Add(*delay)}:
		default:
			// Over 8192 packets held: let this one through at once rather than stall.
			_ = nf.SetVerdict(*a.PacketID, nfqueue.NfAccept)
		}
		return 0
	}
	onError := func(err error) int {
		fmt.Fprintln(os.Stderr, "netdelay:", err)
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, hook, onError); err != nil {
		fmt.Fprintln(os.Stderr, "netdelay: cannot register:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	<-ctx.Done()
}
