#!/usr/bin/perl
# A SOAP::Lite server in front of the Python simulator's dispatcher.
#
# SOAP::Lite 1.27 (the stack PortaBilling runs on) parses every request and serializes every
# reply; this script only forwards what Perl deserialized to DISPATCH_URL as JSON and turns the
# answer back into Perl data, a SOAP::Fault, or base64 data. So the tests see exactly what a
# SOAP::Lite server accepts (SOAPAction check included) and exactly what it sends: gensym
# accessors, hash-order struct fields, xsd:anyType arrays, autotyped scalars.
#
# Usage: soap_front.pl DISPATCH_URL   (prints "PORT <n>" once listening on 127.0.0.1)
use strict;
use warnings;
use SOAP::Lite;
use SOAP::Transport::HTTP;
use JSON::PP;
use HTTP::Tiny;
use MIME::Base64 qw(decode_base64 encode_base64);
use Scalar::Util qw(reftype blessed);

my $DISPATCH = shift or die "usage: $0 DISPATCH_URL\n";
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $HTTP = HTTP::Tiny->new(keep_alive => 1, timeout => 60);

# What Perl received, as JSON: blessed structs become plain hashes; bytes that are not text
# (base64Binary decoded by SOAP::Lite) are marked so the reader can tell them from strings.
sub plain {
    my $v = shift;
    return $v unless defined $v;
    my $type = reftype($v);
    if (!$type) {
        return { '__bytes__' => encode_base64($v, '') } if !utf8::is_utf8($v) && $v =~ /[^\x09\x0a\x0d\x20-\x7e]/;
        return "$v";
    }
    return { map { $_ => plain($v->{$_}) } keys %$v } if $type eq 'HASH';
    return [ map { plain($_) } @$v ] if $type eq 'ARRAY';
    return plain($$v) if $type eq 'SCALAR' || $type eq 'REF';
    return "$v";
}

# The dispatcher's answer as Perl data for SOAP::Lite to serialize its own way.
sub perl_data {
    my $v = shift;
    return undef unless defined $v;
    if (ref $v eq 'HASH') {
        return SOAP::Data->type(base64Binary => decode_base64($v->{'__base64__'}))
            if exists $v->{'__base64__'};
        return { map { $_ => perl_data($v->{$_}) } keys %$v };
    }
    return [ map { perl_data($_) } @$v ] if ref $v eq 'ARRAY';
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
    my $res = $HTTP->post($DISPATCH, { content => $request, headers => { 'content-type' => 'application/json' } });
    die SOAP::Fault->faultcode('Server.Front')->faultstring("dispatcher: $res->{status} $res->{content}")
        unless $res->{success};
    my $answer = $JSON->decode($res->{content});
    if (my $fault = $answer->{fault}) {
        die SOAP::Fault->faultcode($fault->{code})->faultstring($fault->{string});
    }
    return main::perl_data($answer->{result});
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
# which would block every other client.
while (my $conn = $daemon->accept) {
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if ($pid) { $conn->close; next; }
    $HTTP = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
    while (my $req = $conn->get_request) {
        $daemon->request($req);
        $daemon->SOAP::Transport::HTTP::Server::handle;
        $conn->send_response($daemon->response);
    }
    $conn->close;
    exit 0;
}
