#!/usr/bin/perl
# A SOAP::Lite server in front of the Python simulator's dispatcher.
#
# SOAP::Lite 1.27 (the stack PortaBilling runs on) parses every request and serializes every
# reply; this script only forwards what Perl deserialized to DISPATCH_URL as JSON and turns the
# answer back into Perl data, a SOAP::Fault, or base64 data. So the tests see exactly what a
# SOAP::Lite server accepts (SOAPAction check included) and exactly what it sends: gensym
# accessors, hash-order struct fields, xsd:anyType arrays, autotyped scalars.
#
# Usage: soap_front.pl DISPATCH_URL [PARENT_PID]   (prints "PORT <n>" once listening on 127.0.0.1)
use strict;
use warnings;
use SOAP::Lite;
use SOAP::Transport::HTTP;
use JSON::PP;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use MIME::Base64 qw(decode_base64 encode_base64);
use Scalar::Util qw(reftype blessed);

my $DISPATCH = shift or die "usage: $0 DISPATCH_URL [PARENT_PID]\n";
# the simulator that started us: given by it, since by the time we could ask getppid() it may
# already be gone (killed right after start), and we would wait for the wrong parent
my $PARENT = shift // getppid();
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my ($DHOST, $DPORT, $DPATH) = $DISPATCH =~ m{^http://([^/:]+):(\d+)(/.*)$} or die "bad URL $DISPATCH\n";
my $DSOCK;

# POST to the dispatcher over one kept-alive connection, written in one piece with Nagle off
# (HTTP::Tiny writes headers and body apart, which costs a delayed-ACK wait per call).
sub dispatch {
    my $content = shift;
    for my $attempt (1, 2) {
        $DSOCK ||= IO::Socket::INET->new(PeerAddr => $DHOST, PeerPort => $DPORT, Proto => 'tcp')
            or die "cannot reach dispatcher: $!\n";
        setsockopt($DSOCK, IPPROTO_TCP, TCP_NODELAY, 1);
        my $req = "POST $DPATH HTTP/1.1\r\nHost: $DHOST\r\nContent-Type: application/json\r\n"
            . "Content-Length: " . length($content) . "\r\n\r\n" . $content;
        if (print {$DSOCK} $req) {
            my ($status, $len) = (0, 0);
            my $line = <$DSOCK>;
            if (defined $line && $line =~ m{^HTTP/1\.\d (\d+)}) {
                $status = $1;
                while (defined(my $h = <$DSOCK>)) {
                    last if $h =~ /^\r?\n$/;
                    $len = $1 if $h =~ /^Content-Length:\s*(\d+)/i;
                }
                my $body = '';
                while (length($body) < $len) {
                    my $n = read($DSOCK, $body, $len - length($body), length($body));
                    last unless $n;
                }
                return ($status, $body);
            }
        }
        close $DSOCK; undef $DSOCK;  # the server closed the kept-alive connection: once more
    }
    die "dispatcher connection failed\n";
}

# What Perl received, as JSON: blessed structs become plain hashes; bytes (base64Binary decoded
# by SOAP::Lite) are marked so the reader can tell them from strings.
sub plain {
    my $v = shift;
    return $v unless defined $v;
    my $type = reftype($v);
    if (!$type) {
        # XML::Parser hands over text flagged as UTF-8; only decoded base64 comes unflagged
        return { '__bytes__' => encode_base64($v, '') } if !utf8::is_utf8($v);
        return "$v";
    }
    return { map { $_ => plain($v->{$_}) } keys %$v } if $type eq 'HASH';
    return [ map { plain($_) } @$v ] if $type eq 'ARRAY';
    return plain($$v) if $type eq 'SCALAR' || $type eq 'REF';
    return "$v";
}

# The dispatcher's answer as Perl data for SOAP::Lite to serialize its own way. A hash with
# "__ref__" => NAME is one Perl reference per NAME, so SOAP::Lite writes it once as a multi-ref
# (id="ref-...") and points at it with href elsewhere, as it does for shared data.
sub perl_data {
    my ($v, $refs) = @_;
    $refs ||= {};
    return undef unless defined $v;
    if (ref $v eq 'HASH') {
        return SOAP::Data->type(base64Binary => decode_base64($v->{'__base64__'}))
            if exists $v->{'__base64__'};
        if (defined(my $name = $v->{'__ref__'})) {
            return $refs->{$name} ||= { map { $_ => perl_data($v->{$_}, $refs) } grep { $_ ne '__ref__' } keys %$v };
        }
        return { map { $_ => perl_data($v->{$_}, $refs) } keys %$v };
    }
    return [ map { perl_data($_, $refs) } @$v ] if ref $v eq 'ARRAY';
    return ($v ? 1 : 0) if JSON::PP::is_bool($v);
    return $v;
}

package Front::Handler;
our @ISA = ('SOAP::Server::Parameters');
our $AUTOLOAD;

sub AUTOLOAD {
    my $self = shift;
    my $envelope = pop;
    my @params = @_;
    (my $method = $AUTOLOAD) =~ s/.*:://;
    return if $method eq 'DESTROY';
    # SOAP::Lite also probes its handler with calls of its own (no envelope): not a request
    return unless Scalar::Util::blessed($envelope) && $envelope->isa('SOAP::SOM');
    my $uri = $envelope->namespaceuriof('/Envelope/Body/[1]') || '';
    my ($service) = $uri =~ m{([^/]+)$};
    my $auth = $envelope->match('/Envelope/Header/[1]') ? $envelope->valueof('/Envelope/Header/[1]') : undef;
    my $request = $JSON->encode({
        transport => 'soap',
        service => $service,
        method => $method,
        auth_info => main::plain($auth),
        params => [ map { main::plain($_) } @params ],
    });
    my ($status, $body) = main::dispatch($request);
    die SOAP::Fault->faultcode('Server.Front')->faultstring("dispatcher: $status $body")
        unless $status == 200;
    my $answer = $JSON->decode($body);
    if (my $fault = $answer->{fault}) {
        die SOAP::Fault->faultcode($fault->{code})->faultstring($fault->{string});
    }
    my $result = $answer->{result};
    # several output parts (the old two-part releases): one return value per part, in order
    return map { main::perl_data($_) } @{ $result->{'__parts__'} }
        if ref $result eq 'HASH' && exists $result->{'__parts__'};
    return main::perl_data($result);
}

package Front::Daemon;
our @ISA = ('SOAP::Transport::HTTP::Daemon');
my $HANDLER = bless {}, 'Front::Handler';

# Every service namespace goes to the one handler; the SOAPAction check stays SOAP::Lite's own.
sub find_target {
    my ($self, $request) = @_;
    $request->match((ref $request)->method);
    my ($uri, $name) = ($request->namespaceuriof || '', $request->dataof->name);
    $self->on_action->($self->action, $uri, $name);
    die "Denied access to method ($name)\n" unless $name =~ /^\w+$/;
    return ($HANDLER, $uri, $name);
}

package main;
$SIG{CHLD} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';
my $daemon = Front::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 128, Reuse => 1)
    or die "cannot listen: $!\n";
$| = 1;
print "PORT ", $daemon->sockport, "\n";

# One process per connection: SOAP::Lite's daemon serves a keep-alive connection to its end,
# which would block every other client. accept() wakes every second to check that the Python
# simulator that started us is still there: killed (even with SIGKILL, which runs no cleanup),
# it leaves us orphaned, and we go too instead of holding the port for ever.
$daemon->timeout(1);
while (1) {
    my $conn = $daemon->accept;
    if (!$conn) {
        exit 0 if getppid() != $PARENT;
        next;
    }
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid) { $conn->close; next; }
    undef $DSOCK;
    $conn->timeout(undef);  # accept() gave it the listener's 1 s: a connection waits as long as it needs
    setsockopt($conn, IPPROTO_TCP, TCP_NODELAY, 1);
    while (my $req = $conn->get_request) {
        $daemon->request($req);
        $daemon->SOAP::Transport::HTTP::Server::handle;
        $conn->send_response($daemon->response);
    }
    $conn->close;
    exit 0;
}
