import QtQuick

// One service (or a group of them): a large touch target with its name, who waits and how
// long, or why it is closed. Each text comes in one line and in two (broken evenly, or
// between who waits and how long); the button shows the way that lets it be largest, no
// larger than its size and no smaller than a readable minimum. A name that cannot fit at
// that minimum gives way to the service's short name from the branch config. Lines never
// wrap by themselves, so no word is broken and no unit left alone on a line. High
// contrast: dark text on amber when open, grey when not; a group has a white border, "›".
Rectangle {
    id: button
    required property string serviceId
    required property string name
    required property string name2
    required property string shortName
    required property string short2
    required property string detail
    required property string detail2
    required property string note
    required property string note2
    required property bool accepting
    required property bool group
    property real unit: 16
    signal chosen(string serviceId)
    objectName: "service-" + serviceId

    readonly property real pad: Math.max(unit * 0.5, Math.min(width, height) * 0.08)
    readonly property real innerWidth: width - 2 * pad
    readonly property real nameBox: (height - 2 * pad) * 0.6
    readonly property real detailBox: (height - 2 * pad) * 0.4 - unit * 0.2
    readonly property string mark: group ? " ›" : ""

    // The size a text (lines split by "\n") can have in a w x h box, from metrics at 100 px.
    function sizeFor(text, metrics, w, h, largest) {
        const lines = text.split("\n")
        let widest = 1
        for (const line of lines)
            widest = Math.max(widest, metrics.advanceWidth(line))
        return Math.min(largest, 100 * w / widest, 100 * h / (lines.length * metrics.lineSpacing))
    }
    // Of `ways` (one line, two lines), the one shown largest: {text, size}; two lines only
    // when clearly larger. Below `smallest` it is no choice at all (size 0).
    function pick(ways, metrics, h, largest, smallest) {
        let best = { text: ways[0], size: 0 }
        for (let i = 0; i < ways.length; i++) {
            if (ways[i] === "")
                continue
            const size = sizeFor(ways[i], metrics, innerWidth, h, largest)
            if (size >= smallest && size > best.size * (i % 2 === 1 ? 1.15 : 1))
                best = { text: ways[i], size: size }
        }
        return best
    }
    readonly property var nameShown: {
        const full = pick([name + mark, name2 + mark], bold100, nameBox, unit * 2.2, unit * 1.1)
        if (full.size > 0)
            return full
        const short = pick([shortName + mark, short2 + mark], bold100, nameBox, unit * 2.2,
                           unit * 1.1)
        return short.size > 0 ? short : { text: short2 + mark, size: unit * 1.1 }  // it spills
    }
    readonly property var detailShown: {
        const ways = accepting ? [detail, detail2] : [note, note2]
        const chosen = pick(ways, plain100, detailBox, unit * 1.4, unit * 0.9)
        return chosen.size > 0 ? chosen : { text: ways[1], size: unit * 0.9 }  // it spills
    }

    FontMetrics { id: bold100; font.pixelSize: 100; font.bold: true }
    FontMetrics { id: plain100; font.pixelSize: 100 }

    radius: unit * 0.8
    color: !accepting ? "#3a4656" : area.pressed ? "#ffd24d" : "#f5b301"
    border.color: "#ffffff"
    border.width: group ? unit * 0.25 : area.pressed ? unit * 0.3 : 0

    Text {
        anchors { top: parent.top; left: parent.left; right: parent.right; margins: button.pad }
        height: button.nameBox
        text: button.nameShown.text
        color: button.accepting ? "#10213a" : "#ffffff"
        font.pixelSize: button.nameShown.size
        font.bold: true
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignBottom
    }
    Text {
        anchors { bottom: parent.bottom; left: parent.left; right: parent.right
                  margins: button.pad }
        height: button.detailBox
        text: button.detailShown.text
        color: button.accepting ? "#10213a" : "#ffffff"
        font.pixelSize: button.detailShown.size
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignTop
    }
    MouseArea {
        id: area
        anchors.fill: parent
        enabled: button.accepting
        onClicked: button.chosen(button.serviceId)
    }
}
