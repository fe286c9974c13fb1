using MailSync.Core.Stores;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace MailSync.Cli;

/// <summary>
/// Server bytes never reach the console or the log file as they are (<see cref="ServerText"/>):
/// every string property of an event is escaped, CR and LF included, so a folder name or a server
/// reply cannot forge a log line or drive the terminal; and the rendered line is escaped once more,
/// keeping only the line breaks of the template and of a stack trace, for text that came some
/// other way (an exception's message).
/// </summary>
internal sealed class SafeLogText : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        foreach (var (name, value) in logEvent.Properties.ToList())
        {
            if (value is ScalarValue { Value: string text } && ServerText.Escape(text) is { } escaped && !ReferenceEquals(escaped, text))
                logEvent.AddOrUpdateProperty(new LogEventProperty(name, new ScalarValue(escaped)));
            // An enum prints as its name, as the themed console printed it ("side B", not "side \"B\"").
            else if (value is ScalarValue { Value: Enum member })
                logEvent.AddOrUpdateProperty(new LogEventProperty(name, new ScalarValue(member.ToString())));
        }
    }

    /// <summary>A formatter for <paramref name="outputTemplate"/> whose output keeps no control character but line breaks and tabs.</summary>
    public static ITextFormatter Formatter(string outputTemplate) => new Escaping(new MessageTemplateTextFormatter(outputTemplate));

    private sealed class Escaping(ITextFormatter inner) : ITextFormatter
    {
        public void Format(LogEvent logEvent, TextWriter output)
        {
            using var buffer = new StringWriter();
            inner.Format(logEvent, buffer);
            output.Write(ServerText.EscapeKeepingLines(buffer.ToString()));
        }
    }
}
