using System;
using System.Collections;
using System.Collections.Generic;

namespace AgentGate
{
    /// <summary>
    /// A JSON object: a string-keyed dictionary that enumerates in insertion order (document
    /// order for parsed objects). Keys compare ordinally.
    /// </summary>
    internal sealed class JsonObject : IDictionary<string, object>, IReadOnlyDictionary<string, object>
    {
        private readonly List<KeyValuePair<string, object>> entries = new List<KeyValuePair<string, object>>();
        private readonly Dictionary<string, int> index = new Dictionary<string, int>(StringComparer.Ordinal);

        public object this[string key]
        {
            get
            {
                object value;
                if (!TryGetValue(key, out value)) throw new KeyNotFoundException("no key \"" + key + "\"");
                return value;
            }
            set
            {
                if (key == null) throw new ArgumentNullException(nameof(key));
                int at;
                if (index.TryGetValue(key, out at)) entries[at] = new KeyValuePair<string, object>(key, value);
                else Add(key, value);
            }
        }

        public int Count => entries.Count;

        public bool IsReadOnly => false;

        public ICollection<string> Keys
        {
            get
            {
                var keys = new List<string>(entries.Count);
                foreach (var entry in entries) keys.Add(entry.Key);
                return keys;
            }
        }

        public ICollection<object> Values
        {
            get
            {
                var values = new List<object>(entries.Count);
                foreach (var entry in entries) values.Add(entry.Value);
                return values;
            }
        }

        IEnumerable<string> IReadOnlyDictionary<string, object>.Keys => Keys;

        IEnumerable<object> IReadOnlyDictionary<string, object>.Values => Values;

        public void Add(string key, object value)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            if (index.ContainsKey(key)) throw new ArgumentException("duplicate key \"" + key + "\"", nameof(key));
            index.Add(key, entries.Count);
            entries.Add(new KeyValuePair<string, object>(key, value));
        }

        public void Add(KeyValuePair<string, object> item)
        {
            Add(item.Key, item.Value);
        }

        public void Clear()
        {
            entries.Clear();
            index.Clear();
        }

        public bool Contains(KeyValuePair<string, object> item)
        {
            object value;
            return TryGetValue(item.Key, out value) && Equals(value, item.Value);
        }

        public bool ContainsKey(string key)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            return index.ContainsKey(key);
        }

        public void CopyTo(KeyValuePair<string, object>[] array, int arrayIndex)
        {
            entries.CopyTo(array, arrayIndex);
        }

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            return entries.GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return GetEnumerator();
        }

        public bool Remove(string key)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            int at;
            if (!index.TryGetValue(key, out at)) return false;
            entries.RemoveAt(at);
            index.Remove(key);
            for (int i = at; i < entries.Count; i++) index[entries[i].Key] = i;
            return true;
        }

        public bool Remove(KeyValuePair<string, object> item)
        {
            return Contains(item) && Remove(item.Key);
        }

        public bool TryGetValue(string key, out object value)
        {
            if (key == null) throw new ArgumentNullException(nameof(key));
            int at;
            if (index.TryGetValue(key, out at))
            {
                value = entries[at].Value;
                return true;
            }
            value = null;
            return false;
        }
    }
}
