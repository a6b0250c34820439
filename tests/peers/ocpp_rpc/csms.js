#!/usr/bin/env node
'use strict';
/*
 * Independent OCPP 1.6J CSMS peer for ocpp-station end-to-end tests.
 *
 * Built on the npm package `ocpp-rpc` in strict mode, so every CALL our charge
 * point sends (and every CALLRESULT it returns to our CALLs) is validated
 * against the official OCPP 1.6 JSON schemas by code we did not write.
 *
 * Usage: node csms.js --port PORT [--valid-tags TAG1,TAG2] [--call-timeout-ms MS]
 *
 * Line protocol (one JSON object per line) is documented in README.md.
 */

const http = require('node:http');
const readline = require('node:readline');
const { parseArgs } = require('node:util');
const { RPCServer, createRPCError, TimeoutError } = require('ocpp-rpc');

const PROTOCOL = 'ocpp1.6';

// ---------------------------------------------------------------- arguments

function usage(msg) {
    if (msg) process.stderr.write(`csms.js: ${msg}\n`);
    process.stderr.write('usage: node csms.js --port PORT [--valid-tags TAG1,TAG2] [--call-timeout-ms MS]\n');
    process.exit(2);
}

let args;
try {
    args = parseArgs({
        options: {
            'port': { type: 'string' },
            'valid-tags': { type: 'string' },
            'call-timeout-ms': { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
    }).values;
} catch (err) {
    usage(err.message);
}

if (args.port === undefined || !/^\d+$/.test(args.port) || Number(args.port) > 65535) {
    usage('--port PORT is required (0 = pick a free port)');
}
const PORT = Number(args.port);

// undefined => accept every idTag; otherwise only the listed tags (exact match)
const VALID_TAGS = args['valid-tags'] === undefined
    ? null
    : new Set(args['valid-tags'].split(',').map(t => t.trim()).filter(t => t.length > 0));

let CALL_TIMEOUT_MS = 30000;
if (args['call-timeout-ms'] !== undefined) {
    if (!/^\d+$/.test(args['call-timeout-ms']) || Number(args['call-timeout-ms']) <= 0) {
        usage('--call-timeout-ms must be a positive integer');
    }
    CALL_TIMEOUT_MS = Number(args['call-timeout-ms']);
}

// ---------------------------------------------------------------- output

function emit(obj) {
    // One JSON object per line. stdout is synchronous for pipes/files on Linux.
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function errorInfo(err) {
    if (err == null) return null;
    const info = {
        code: err.rpcErrorCode ?? err.code ?? err.name ?? 'Error',
        message: err.message || err.rpcErrorMessage || String(err),
    };
    if (err.details && Object.keys(err.details).length > 0) {
        info.details = err.details;
    }
    return info;
}

// ---------------------------------------------------------------- CSMS logic

let nextTransactionId = 1;

// BootNotification.conf status for later boots (stdin command `bootStatus`); Pending and Rejected
// come with a 300 s retry interval like Accepted.
const BOOT_STATUSES = new Set(['Accepted', 'Pending', 'Rejected']);
let bootStatus = 'Accepted';

function idTagInfo(idTag) {
    const ok = VALID_TAGS === null || VALID_TAGS.has(idTag);
    return { status: ok ? 'Accepted' : 'Invalid' };
}

const handlers = {
    BootNotification: () => ({
        status: bootStatus,
        currentTime: new Date().toISOString(),
        interval: 300,
    }),
    Heartbeat: () => ({ currentTime: new Date().toISOString() }),
    StatusNotification: () => ({}),
    Authorize: ({ params }) => ({ idTagInfo: idTagInfo(params.idTag) }),
    StartTransaction: ({ params }) => ({
        transactionId: nextTransactionId++,
        idTagInfo: idTagInfo(params.idTag),
    }),
    StopTransaction: ({ params }) => (
        params.idTag !== undefined ? { idTagInfo: idTagInfo(params.idTag) } : {}
    ),
    MeterValues: () => ({}),
    DataTransfer: () => ({ status: 'UnknownVendorId' }),
    FirmwareStatusNotification: () => ({}),
    DiagnosticsStatusNotification: () => ({}),
    // Security whitepaper A04: validated against ocpp-rpc's OCPP 1.6 schema like the others.
    SecurityEventNotification: () => ({}),
    // Security whitepaper N01: GetLog's upload status (schema-checked in strict mode).
    LogStatusNotification: () => ({}),
    // Security whitepaper L01: the signed firmware status (schema-checked in strict mode).
    SignedFirmwareStatusNotification: () => ({}),
    // Security whitepaper A02/A03: the CSR is schema-checked in strict mode; Accepted (A02.FR.11).
    SignCertificate: () => ({ status: 'Accepted' }),
};

// identity -> RPCServerClient (latest connection wins)
const clients = new Map();

const server = new RPCServer({
    protocols: [PROTOCOL],
    strictMode: true,
    callTimeoutMs: CALL_TIMEOUT_MS,
});

// Refuse connections that do not offer ocpp1.6: ocpp-rpc would otherwise
// accept them with *no* subprotocol, and strict validation would silently be
// skipped for that connection.
server.auth((accept, reject, handshake) => {
    if (!handshake.protocols.has(PROTOCOL)) {
        emit({
            event: 'error',
            kind: 'upgradeRejected',
            identity: handshake.identity,
            error: {
                code: 'NoSubprotocol',
                message: `client offered subprotocols ${JSON.stringify([...handshake.protocols])}, expected '${PROTOCOL}'`,
            },
        });
        reject(400, `Subprotocol '${PROTOCOL}' required`);
        return;
    }
    accept({}, PROTOCOL);
});

server.on('upgradeAborted', ({ error, identity }) => {
    emit({ event: 'error', kind: 'upgradeAborted', identity, error: errorInfo(error) });
});

server.on('error', (err) => {
    emit({ event: 'error', kind: 'serverError', error: errorInfo(err) });
});

server.on('client', (client) => {
    const identity = client.identity;
    clients.set(identity, client);

    // messageId -> action for inbound CALLs (to label our replies)
    const inboundActions = new Map();

    emit({
        event: 'connected',
        identity,
        protocol: client.protocol,
        remoteAddress: client.handshake.remoteAddress,
    });

    // Raw frames in both directions (exact text on the wire).
    client.on('message', ({ message, outbound }) => {
        emit({ event: 'frame', identity, direction: outbound ? 'out' : 'in', raw: String(message) });
    });

    // Every CALL from the charge point, logged before validation/handling.
    client.on('call', ({ outbound, payload }) => {
        if (outbound) return;
        const [, messageId, action, params] = payload;
        inboundActions.set(messageId, action);
        emit({ event: 'call', identity, messageId, action, params });
    });

    // Every reply we send to a charge point CALL (CALLRESULT or CALLERROR).
    client.on('response', ({ outbound, payload }) => {
        if (!outbound) return;
        const messageId = payload[1];
        const action = inboundActions.get(messageId) ?? null;
        inboundActions.delete(messageId);
        if (payload[0] === 3) {
            emit({ event: 'reply', identity, messageId, action, result: payload[2] });
        } else {
            emit({
                event: 'reply',
                identity,
                messageId,
                action,
                error: { code: payload[2], message: payload[3], details: payload[4] },
            });
        }
    });

    // Schema failures: inbound CALL params (we reply with a CALLERROR),
    // inbound CALLRESULTs to our calls, or our own outbound payloads.
    client.on('strictValidationFailure', (ev) => {
        strictErrors.add(ev.error);
        emit({
            event: 'error',
            kind: 'strictValidationFailure',
            identity,
            messageId: ev.messageId,
            action: ev.method,
            direction: ev.outbound ? 'out' : 'in',
            isCall: ev.isCall,
            params: ev.params,
            result: ev.result,
            error: errorInfo(ev.error),
        });
    });

    // Frames that are not valid OCPP-J RPC at all.
    client.on('badMessage', ({ buffer, error, response }) => {
        emit({
            event: 'error',
            kind: 'badMessage',
            identity,
            raw: buffer == null ? null : buffer.toString('utf8'),
            error: errorInfo(error),
            response,
        });
    });

    client.on('socketError', (err) => {
        emit({ event: 'error', kind: 'socketError', identity, error: errorInfo(err) });
    });

    client.once('close', ({ code, reason }) => {
        if (clients.get(identity) === client) clients.delete(identity);
        emit({ event: 'disconnected', identity, code, reason: reason == null ? '' : String(reason) });
    });

    for (const [action, fn] of Object.entries(handlers)) {
        client.handle(action, async (call) => {
            try {
                return await fn(call);
            } catch (err) {
                emit({ event: 'error', kind: 'handler', identity, action, error: errorInfo(err) });
                throw createRPCError('InternalError', err.message);
            }
        });
    }
});

// Errors produced by strict validation (so we can tell them from remote errors).
const strictErrors = new WeakSet();

// ---------------------------------------------------------------- stdin commands

async function runCommand(cmd) {
    const base = { action: cmd.action ?? null, identity: cmd.identity ?? null };
    if (cmd.id !== undefined) base.id = cmd.id;

    if (cmd.cmd === 'call') {
        const client = clients.get(cmd.identity);
        if (typeof cmd.action !== 'string') {
            emit({ event: 'callError', ...base, source: 'local',
                   error: { code: 'BadCommand', message: '"action" must be a string' } });
            return;
        }
        if (!client) {
            emit({ event: 'callError', ...base, source: 'local',
                   error: { code: 'NotConnected', message: `no connected client '${cmd.identity}'` } });
            return;
        }
        try {
            const result = await client.call(cmd.action, cmd.params ?? {});
            emit({ event: 'result', ...base, result });
        } catch (err) {
            let source = 'remote';
            let error = errorInfo(err);
            if (strictErrors.has(err)) {
                source = 'strictValidation';
            } else if (err instanceof TimeoutError) {
                source = 'timeout';
                error = { code: 'Timeout', message: err.message };
            } else if (!(err && err.rpcErrorCode)) {
                source = 'local';
            }
            emit({ event: 'callError', ...base, source, error });
        }
        return;
    }

    if (cmd.cmd === 'bootStatus') {
        if (!BOOT_STATUSES.has(cmd.status)) {
            emit({ event: 'error', kind: 'command', ...base,
                   error: { code: 'BadCommand', message: `"status" must be one of ${[...BOOT_STATUSES].join(', ')}` } });
            return;
        }
        bootStatus = cmd.status;
        emit({ event: 'bootStatus', status: bootStatus, ...(cmd.id !== undefined ? { id: cmd.id } : {}) });
        return;
    }

    if (cmd.cmd === 'close') {
        const client = clients.get(cmd.identity);
        if (!client) {
            emit({ event: 'error', kind: 'command', ...base,
                   error: { code: 'NotConnected', message: `no connected client '${cmd.identity}'` } });
            return;
        }
        await client.close({ code: cmd.code ?? 1000, reason: cmd.reason ?? '', force: !!cmd.force });
        return;
    }

    emit({ event: 'error', kind: 'command', ...base,
           error: { code: 'BadCommand', message: `unknown cmd ${JSON.stringify(cmd.cmd)}` } });
}

// ---------------------------------------------------------------- lifecycle

let shuttingDown = false;
let httpServer = null;

async function shutdown(why) {
    if (shuttingDown) return;
    shuttingDown = true;
    // Never hang on a peer that does not complete the close handshake.
    setTimeout(() => process.exit(0), 2000).unref();
    try {
        if (httpServer) httpServer.close();
        await server.close({ code: 1001, reason: 'CSMS shutting down' });
    } catch (err) {
        emit({ event: 'error', kind: 'shutdown', error: errorInfo(err) });
    }
    emit({ event: 'stopped', reason: why });
    process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

async function main() {
    // Own HTTP server rather than server.listen(): ocpp-rpc 2.2.1's listen()
    // never rejects on EADDRINUSE (it becomes an uncaught 'error' event).
    httpServer = http.createServer((req, res) => {
        res.statusCode = 404;
        res.end();
    });
    httpServer.on('upgrade', server.handleUpgrade);
    try {
        await new Promise((resolve, reject) => {
            httpServer.once('error', reject);
            httpServer.listen(PORT, '127.0.0.1', () => {
                httpServer.off('error', reject);
                resolve();
            });
        });
    } catch (err) {
        emit({ event: 'error', kind: 'listen', error: errorInfo(err) });
        process.exit(1);
    }
    httpServer.on('error', (err) => {
        emit({ event: 'error', kind: 'serverError', error: errorInfo(err) });
    });
    emit({ event: 'listening', port: httpServer.address().port });

    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    rl.on('line', (line) => {
        if (!line.trim()) return;
        let cmd;
        try {
            cmd = JSON.parse(line);
            if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) {
                throw new Error('command must be a JSON object');
            }
        } catch (err) {
            emit({ event: 'error', kind: 'stdin', line, error: { code: 'BadCommand', message: err.message } });
            return;
        }
        runCommand(cmd).catch((err) => {
            emit({ event: 'error', kind: 'command', error: errorInfo(err) });
        });
    });
    rl.on('close', () => shutdown('stdin closed'));
}

main();
