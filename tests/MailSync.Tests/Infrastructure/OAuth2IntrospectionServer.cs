using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A minimal OAuth 2.0 token introspection endpoint (RFC 7662 style) for the test Dovecot's
/// oauth2 passdb. Dovecot POSTs "token=..." to <see cref="IntrospectionUrl"/>; a token issued here
/// answers {"active":true,"username":"NAME"}, any other token {"active":false}.
/// Listens on 127.0.0.1 only, on a port the OS picks; one request per connection.
/// </summary>
public sealed class OAuth2IntrospectionServer : IAsyncDisposable
{
    private const string Path = "/introspect";
    private const int MaxRequestBytes = 64 * 1024;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpListener _listener;
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _requestCount;
    private bool _disposed;

    private OAuth2IntrospectionServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        IntrospectionUrl = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}{Path}"));
        _acceptLoop = AcceptLoopAsync();
    }

    public Uri IntrospectionUrl { get; }

    /// <summary>Introspection requests answered so far (any token, any outcome).</summary>
    public int RequestCount => Volatile.Read(ref _requestCount);

    public static OAuth2IntrospectionServer Start() => new();

    /// <summary>A fresh random bearer token that introspects as active for <paramref name="userName"/>.</summary>
    public string Issue(string userName)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var token = RandomNumberGenerator.GetHexString(40, lowercase: true);
        _tokens[token] = userName;
        return token;
    }

    /// <summary>From now on the token introspects as inactive; false if it was never issued.</summary>
    public bool Revoke(string token) => _tokens.TryRemove(token, out _);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        await Task.WhenAll(_connections.Keys);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException
                && _stop.IsCancellationRequested)
            {
                return;
            }

            var connection = ServeAsync(client);
            _connections.TryAdd(connection, 0);
            _ = connection.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        await Task.Yield();
        using (client)
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
        {
            timeout.CancelAfter(RequestTimeout);
            try
            {
                var stream = client.GetStream();
                var (status, body) = Answer(await ReadRequestAsync(stream, timeout.Token));
                Interlocked.Increment(ref _requestCount);
                var payload = Encoding.UTF8.GetBytes(body);
                var head = string.Create(CultureInfo.InvariantCulture,
                    $"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
                await stream.WriteAsync(payload, timeout.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException)
            {
                // The peer went away, was too slow or sent garbage: drop the connection.
            }
        }
    }

    private (string Status, string Body) Answer(HttpRequest request)
    {
        if (request.Method != "POST" || request.Target != Path)
        {
            return ("404 Not Found", """{"error":"not found"}""");
        }

        var token = ParseForm(request.Body).GetValueOrDefault("token");
        return token is not null && _tokens.TryGetValue(token, out var user)
            ? ("200 OK", JsonSerializer.Serialize(new Dictionary<string, object> { ["active"] = true, ["username"] = user }))
            : ("200 OK", """{"active":false}""");
    }

    private static async Task<HttpRequest> ReadRequestAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int headerEnd;
        while ((headerEnd = buffer.GetBuffer().AsSpan(0, (int)buffer.Length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var read = await stream.ReadAsync(chunk, ct);
            if (read == 0)
            {
                throw new IOException("connection closed inside the request header");
            }

            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxRequestBytes)
            {
                throw new InvalidDataException("request header too large");
            }
        }

        var header = Encoding.ASCII.GetString(buffer.GetBuffer(), 0, headerEnd).Split("\r\n");
        var requestLine = header[0].Split(' ');
        if (requestLine.Length != 3)
        {
            throw new InvalidDataException($"bad request line '{header[0]}'");
        }

        var contentLength = 0;
        foreach (var line in header.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                && (!int.TryParse(line[(colon + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out contentLength)
                    || contentLength > MaxRequestBytes))
            {
                throw new InvalidDataException($"bad Content-Length '{line}'");
            }
        }

        var bodyStart = headerEnd + 4;
        while (buffer.Length < bodyStart + contentLength)
        {
            var read = await stream.ReadAsync(chunk, ct);
            if (read == 0)
            {
                throw new IOException("connection closed inside the request body");
            }

            buffer.Write(chunk, 0, read);
        }

        var body = Encoding.UTF8.GetString(buffer.GetBuffer(), bodyStart, contentLength);
        return new HttpRequest(requestLine[0], requestLine[1], body);
    }

    private static Dictionary<string, string> ParseForm(string body)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in body.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? "" : pair[(equals + 1)..];
            fields[Decode(name)] = Decode(value);
        }

        return fields;

        static string Decode(string part) => Uri.UnescapeDataString(part.Replace('+', ' '));
    }

    private sealed record HttpRequest(string Method, string Target, string Body);
}
