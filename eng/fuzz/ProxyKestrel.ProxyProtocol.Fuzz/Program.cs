using ProxyKestrel.ProxyProtocol.Fuzzing;
using SharpFuzz;

// Usage:
//   [--target codec|datagram]  which target runs (default codec: CodecFuzzTarget; datagram: DatagramFuzzTarget).
//   (no further arguments)     run under afl-fuzz: each input arrives on stdin through SharpFuzz's out-of-process runner.
//   --replay FILE|DIR...       run the target once per file (no AFL needed); prints each failure, exits 1 if any.
bool datagram = false;
if (args.Length >= 2 && args[0] == "--target")
{
    if (args[1] is not ("codec" or "datagram"))
    {
        Console.Error.WriteLine($"unknown target '{args[1]}'; allowed: codec, datagram");
        return 2;
    }

    datagram = args[1] == "datagram";
    args = args[2..];
}

void RunTarget(ReadOnlySpan<byte> input)
{
    if (datagram)
    {
        DatagramFuzzTarget.Run(input);
    }
    else
    {
        CodecFuzzTarget.Run(input);
    }
}

if (args.Length > 0 && args[0] == "--replay")
{
    int failures = 0;
    int count = 0;
    foreach (string path in args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]))
    {
        count++;
        try
        {
            RunTarget(File.ReadAllBytes(path));
        }
        catch (Exception ex)
        {
            failures++;
            Console.WriteLine($"FAIL {path}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    Console.WriteLine($"replayed {count} inputs, {failures} failed");
    return failures == 0 && count > 0 ? 0 : 1;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    RunTarget(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
});
return 0;
