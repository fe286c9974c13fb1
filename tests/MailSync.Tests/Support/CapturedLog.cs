using System.Collections.Concurrent;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace MailSync.Tests.Support;

/// <summary>A Serilog logger whose rendered messages the test can read back.</summary>
public sealed class CapturedLog : ILogEventSink
{
    private readonly ConcurrentQueue<string> _messages = new();

    public CapturedLog() => Logger = new LoggerConfiguration().MinimumLevel.Debug().WriteTo.Sink(this).CreateLogger();

    public ILogger Logger { get; }

    public IReadOnlyList<string> Messages => _messages.ToList();

    public void Emit(LogEvent logEvent) => _messages.Enqueue(logEvent.RenderMessage());
}
