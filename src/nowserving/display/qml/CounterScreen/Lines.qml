import QtQuick

// A text in each shown language, one under the other, each as large as its share of the
// box allows (the first language larger). Side by side each keeps to one line; alone, a
// text may take two. `fitsSideBySide` says whether every language's text would still fit
// on its line side by side at the smallest size allowed (if not, the screen alternates).
Item {
    id: lines
    required property var texts  // language -> text
    required property var langs  // the languages shown now
    required property var allLangs  // every language of the screen
    property real firstShare: 0.58  // of the height, for the first language side by side
    property real fill: 0.8  // the largest type, as a share of a line's height
    property real smallest: 0.45  // the smallest type, as a share of its largest
    property real wrapBelow: 0.3  // alone, a text wraps when one line would be smaller
    property color color: "white"
    property color secondColor: color
    property bool bold: true
    property int align: Text.AlignHCenter
    property string name: ""  // each text's objectName, for tests

    function shareOf(index, count) {
        return count === 1 ? 1 : (index === 0 ? firstShare : (1 - firstShare) / (count - 1))
    }
    readonly property bool fitsSideBySide: {
        for (let i = 0; i < probes.count; ++i) {
            const probe = probes.itemAt(i)
            if (probe && probe.implicitWidth > lines.width + 0.5) return false
        }
        return true
    }

    Column {
        anchors.fill: parent
        Repeater {
            model: lines.langs
            Text {
                id: line
                required property var modelData
                required property int index
                readonly property bool alone: lines.langs.length === 1
                // Alone, a text wraps only when one line would make it small (a name
                // broken as "3号窗 / 口" reads worse than one line a little smaller).
                readonly property bool wraps: alone
                    && oneLine.advanceWidth * lines.wrapBelow > width
                TextMetrics {
                    id: oneLine
                    font.family: line.font.family
                    font.bold: line.font.bold
                    font.pixelSize: line.font.pixelSize
                    text: line.text
                }
                objectName: lines.name
                width: lines.width
                height: lines.height * lines.shareOf(index, lines.langs.length)
                text: lines.texts[modelData] || ""
                color: index === 0 ? lines.color : lines.secondColor
                font.bold: lines.bold && index === 0
                font.pixelSize: Math.max(1, height * lines.fill)
                minimumPixelSize: Math.max(1, height * lines.fill * lines.smallest * (alone ? 0.35 : 1))
                fontSizeMode: Text.Fit
                wrapMode: wraps ? Text.WordWrap : Text.NoWrap
                maximumLineCount: wraps ? 100 : 1  // (a limit would elide before shrinking)
                elide: Text.ElideRight
                horizontalAlignment: lines.align
                verticalAlignment: Text.AlignVCenter
            }
        }
    }
    // Each language's text at its smallest size side by side: does it fit the width?
    Repeater {
        id: probes
        model: lines.allLangs
        Text {
            required property var modelData
            required property int index
            visible: false
            text: lines.texts[modelData] || ""
            font.bold: lines.bold && index === 0
            font.pixelSize: Math.max(1, lines.height * lines.shareOf(index, lines.allLangs.length)
                                        * lines.fill * lines.smallest)
        }
    }
}
