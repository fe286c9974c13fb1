using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace MailSync.Tests.Infrastructure;

/// <summary>One relayed client connection of a test relay, as <see cref="RelayListener{TConnection}"/> drives it.</summary>
internal interface IRelayConnection
{
    /// <summary>1-based, in the order the connections were accepted.</summary>
    int Id { get; }

    /// <summary>The relay's task; ends when both sides are closed.</summary>
    Task Completion { get; }

    /// <summary>Starts relaying (called once, right after it is registered).</summary>
    void Start();

    /// <summary>Resets both sides at once.</summary>
    void Abort();
}

/// <summary>Closing a relayed connection's two sockets, shared by the relays' connections.</summary>
internal static class RelaySockets
{
    /// <summary>
    /// Closes both sockets: with a TCP reset (<paramref name="reset"/>, the "cut" of the fault
    /// tests: zero linger) or an orderly shutdown. A socket already gone is simply disposed.
    /// </summary>
    public static void Close(bool reset, params Socket[] sockets)
    {
        foreach (var socket in sockets)
        {
            try
            {
                if (reset)
                {
                    socket.LingerState = new LingerOption(true, 0);
                }
                else if (socket.Connected)
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
            }
            catch (SocketException)
            {
                // Already gone: closing is all that is left to do.
            }

            socket.Dispose();
        }
    }
}

/// <summary>
/// What every test relay (<see cref="ImapFaultProxy"/>, <see cref="Pop3Proxy"/>,
/// <see cref="HostileImapServer"/>) shares: a listener on 127.0.0.1 (ephemeral port), the accept
/// loop, the open connections, the relay errors kept for <see cref="DisposeAsync"/>, and an orderly
/// stop. The owner makes each accepted connection (<see cref="Start"/>), so the loop starts only
/// once the owner is fully built.
/// </summary>
internal sealed class RelayListener<TConnection> : IAsyncDisposable
    where TConnection : class, IRelayConnection
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<int, TConnection> _connections = new();
    private readonly ConcurrentQueue<Exception> _faults = new();
    private Task _acceptLoop = Task.CompletedTask;
    private int _connectionCount;
    private int _disposed;

    public RelayListener()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
    }

    public int Port { get; }

    /// <summary>Client connections accepted so far.</summary>
    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    /// <summary>The connections still open.</summary>
    public ICollection<TConnection> Open => _connections.Values;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Starts accepting; <paramref name="create"/> makes the connection for each accepted socket and its 1-based number.</summary>
    public void Start(Func<int, Socket, TConnection> create) => _acceptLoop = AcceptLoopAsync(create);

    /// <summary>An unexpected error of a connection's relay (a bug of the relay), rethrown by <see cref="DisposeAsync"/>.</summary>
    public void RecordFault(Exception fault) => _faults.Enqueue(fault);

    public void Forget(TConnection connection) => _connections.TryRemove(connection.Id, out _);

    /// <summary>
    /// Stops listening, resets every open connection (ending every endless stream) and waits for the relay tasks;
    /// then rethrows the first unexpected error of any connection's relay, if there was one.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        var open = _connections.Values.ToList();
        foreach (var connection in open)
        {
            connection.Abort();
        }

        try
        {
            await Task.WhenAll(open.Select(c => c.Completion));
        }
        finally
        {
            _stopping.Dispose();
        }

        if (_faults.TryPeek(out var fault))
        {
            ExceptionDispatchInfo.Capture(fault).Throw();
        }
    }

    private async Task AcceptLoopAsync(Func<int, Socket, TConnection> create)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException
                || (e is SocketException && _stopping.IsCancellationRequested))
            {
                return;
            }

            var connection = create(Interlocked.Increment(ref _connectionCount), socket);
            _connections[connection.Id] = connection;
            connection.Start();
        }
    }
}
